"""The two PPO trainers behind one interface: RLlib (new API stack) and the SB3 baseline.

``Trainer.iterate()`` runs one PPO iteration (``agent.train_batch_size`` env steps, then the update) and
returns the RL scalars under the shared keys of ``experiments.training.tensorboard.RL_TAGS``; ``save``
writes a checkpoint directory; ``policy()`` is the current policy as a ``Policy`` for evaluation;
``coverage()`` merges the episode-start and visited-bar counters of every env the trainer samples from.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Protocol

from agents.config import PPOConfig
from agents.policy import Policy
from asterrl.errors import ConfigError
from asterrl.files import atomic_path
from envs.core import EnvCore
from envs.coverage import CoverageSnapshot, merge


class Trainer(Protocol):
    env_steps: int

    def iterate(self) -> dict[str, float]: ...

    def save(self, directory: Path) -> Path: ...

    def policy(self) -> Policy: ...

    def coverage(self) -> CoverageSnapshot: ...

    def close(self) -> None: ...


class RLlibTrainer:
    """RLlib PPO; Ray must be running (``ray_session``)."""

    def __init__(self, cfg: PPOConfig, core: EnvCore, seed: int, resume: str | None = None) -> None:
        from agents.rllib.config import build_rllib_ppo, register_env

        register_env()
        self.cfg = cfg
        self.algo = build_rllib_ppo(cfg, core, seed).build_algo()
        if resume:
            self.algo.restore_from_path(str(_checkpoint_dir(resume, "rllib_checkpoint.json")))
        self.env_steps = 0

    def iterate(self) -> dict[str, float]:
        start = time.perf_counter()
        result = self.algo.train()
        elapsed = time.perf_counter() - start
        runners = result.get("env_runners", {})
        learner = result.get("learners", {}).get("default_policy", {})
        self.env_steps = int(
            result.get("num_env_steps_sampled_lifetime", runners.get("num_env_steps_sampled_lifetime", 0))
        )
        sampled = float(runners.get("num_env_steps_sampled", self.cfg.train_batch_size))
        out = {
            "episode_return_mean": runners.get("episode_return_mean"),
            "episode_len_mean": runners.get("episode_len_mean"),
            "policy_loss": learner.get("policy_loss"),
            "vf_loss": learner.get("vf_loss"),
            "entropy": learner.get("entropy"),
            "kl": learner.get("mean_kl_loss"),
            "env_steps_per_s": sampled / elapsed if elapsed > 0 else None,
            "env_steps": float(self.env_steps),
        }
        return {k: float(v) for k, v in out.items() if v is not None}

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        self.algo.save_to_path(str(directory.resolve()))
        return directory

    def policy(self) -> Policy:
        from agents.rllib.policy import RLlibPolicy

        module = self.algo.get_module()
        assert module is not None
        return RLlibPolicy(module, self.cfg.name)

    def coverage(self) -> CoverageSnapshot:
        """Counters of the envs of every env runner (the local one samples only without remote runners)."""
        group = self.algo.env_runner_group
        assert group is not None
        snapshots = group.foreach_env_runner(_runner_coverage, local_env_runner=True)
        return merge([s for s in snapshots if s is not None])

    def close(self) -> None:
        self.algo.stop()


class SB3Trainer:
    """SB3 PPO over the same batched env (same-step autoreset for SB3's ``VecEnv`` contract)."""

    def __init__(self, cfg: PPOConfig, core: EnvCore, seed: int, resume: str | None = None) -> None:
        from stable_baselines3 import PPO

        from agents.sb3.ppo import build_sb3_ppo
        from agents.sb3.vec_env import SB3VecEnv
        from envs.vector_env import AsterPerpVectorEnv

        self.cfg = cfg
        self.venv = SB3VecEnv(AsterPerpVectorEnv(num_envs=cfg.num_envs_per_env_runner, core=core))
        self.model = build_sb3_ppo(cfg, self.venv, seed)
        if resume:
            path = _checkpoint_dir(resume, "model.zip") / "model.zip"
            self.model = PPO.load(str(path), env=self.venv, device=self.model.device)
        self.steps_per_iteration = self.model.n_steps * self.venv.num_envs
        self.env_steps = int(self.model.num_timesteps)

    def iterate(self) -> dict[str, float]:
        from agents.sb3.ppo import learn_iteration

        start = time.perf_counter()
        out: dict[str, Any] = learn_iteration(self.model, self.steps_per_iteration)
        elapsed = time.perf_counter() - start
        self.env_steps = int(self.model.num_timesteps)
        out["env_steps_per_s"] = self.steps_per_iteration / elapsed if elapsed > 0 else 0.0
        out["env_steps"] = float(self.env_steps)
        return {k: float(v) for k, v in out.items()}

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        with atomic_path(directory / "model.zip") as temporary:
            self.model.save(str(temporary))
        return directory

    def policy(self) -> Policy:
        from agents.sb3.ppo import SB3Policy

        return SB3Policy(self.model, self.cfg.name)

    def coverage(self) -> CoverageSnapshot:
        return self.venv.env.coverage.snapshot()

    def close(self) -> None:
        self.venv.close()


def _runner_coverage(runner: Any) -> CoverageSnapshot | None:
    """The coverage counters of an RLlib env runner's vector env (``None`` for a runner without an env)."""
    env = getattr(runner, "env", None)
    if env is None:
        return None
    return env.unwrapped.coverage.snapshot()  # type: ignore[no-any-return]


def _checkpoint_dir(resume: str, marker: str) -> Path:
    """The absolute checkpoint folder to resume from; one clear error when it is not such a folder."""
    path = Path(resume).expanduser().resolve()
    if not (path / marker).exists():
        raise ConfigError(f"train.resume={resume}: not a checkpoint of this agent's framework (no {marker})")
    return path
