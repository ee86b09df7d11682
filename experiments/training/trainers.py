"""The two PPO trainers behind one interface: RLlib (new API stack) and the SB3 baseline.

``Trainer.iterate()`` runs one PPO iteration (``agent.train_batch_size`` env steps, then the update) and
returns the RL scalars under the shared keys of ``experiments.training.tensorboard.RL_TAGS``; ``policy()`` is
the current policy as a ``Policy`` for evaluation; ``coverage()`` merges the episode-start and visited-bar
counters of every env the trainer samples from.

``save(folder)`` writes everything a resumed run needs to continue where this one stands: the framework's
own checkpoint (weights, optimizer state, counters) plus ``trainer_state.pkl`` (the global torch, numpy and
Python random streams, and the state of every env: positions, episode-start streams, coverage counters).
``restore(folder)`` on a trainer built from the same config continues from there: an SB3 run resumed from
the checkpoint of iteration k ends with the same weights as one that never stopped; an RLlib run continues
its counters, optimizer and episode-start streams (its env runners start fresh episodes).
"""

from __future__ import annotations

import contextlib
import pickle
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from agents.config import PPOConfig
from agents.policy import Policy
from asterrl.files import atomic_write
from envs.core import EnvCore
from envs.coverage import CoverageSnapshot, merge
from experiments.training.checkpoints import SB3_MODEL, damaged, read_info, verify_checkpoint

#: The trainer's own part of a checkpoint: random streams and env states.
TRAINER_STATE = "trainer_state.pkl"


class Trainer(Protocol):
    env_steps: int

    def iterate(self) -> dict[str, float]: ...

    def save(self, directory: Path) -> Path: ...

    def restore(self, directory: Path) -> None: ...

    def policy(self) -> Policy: ...

    def coverage(self) -> CoverageSnapshot: ...

    def close(self) -> None: ...


def rng_state() -> dict[str, Any]:
    """The global random streams a trainer draws from (torch, numpy, Python)."""
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


@contextlib.contextmanager
def isolated_rng() -> Iterator[None]:
    """Run the block (an evaluation, which seeds the policy) without moving the training's random streams."""
    saved = rng_state()
    try:
        yield
    finally:
        set_rng_state(saved)


def _write_state(directory: Path, state: dict[str, Any]) -> None:
    atomic_write(directory / TRAINER_STATE, pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))


def _read_state(directory: Path) -> dict[str, Any]:
    try:
        with (directory / TRAINER_STATE).open("rb") as handle:
            state = pickle.load(handle)
        if not isinstance(state, dict) or "rng" not in state:
            raise ValueError(f"{TRAINER_STATE} holds no trainer state")
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, AttributeError) as exc:
        raise damaged(directory, exc) from None
    return state


class RLlibTrainer:
    """RLlib PPO; Ray must be running (``ray_session``)."""

    def __init__(self, cfg: PPOConfig, core: EnvCore, seed: int) -> None:
        from agents.rllib.config import build_rllib_ppo

        self.cfg = cfg
        self.algo = build_rllib_ppo(cfg, core, seed).build_algo()
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
        states = self._group().foreach_env_runner(_runner_env_state, local_env_runner=True)
        envs = {index: state for index, state in states if state is not None}
        _write_state(directory, {"rng": rng_state(), "envs": envs, "env_steps": self.env_steps})
        return directory

    def restore(self, directory: Path) -> None:
        """Continue from an algorithm checkpoint of this config; one line when it is not complete."""
        verify_checkpoint(directory, read_info(directory))
        state = _read_state(directory)
        try:
            self.algo.restore_from_path(str(directory.resolve()))
        except Exception as exc:  # RLlib and pickle raise many kinds for a bad file
            raise damaged(directory, exc) from None
        envs: dict[int, dict[str, Any]] = state.get("envs", {})
        self._group().foreach_env_runner(
            lambda runner: _restore_runner_env(runner, envs), local_env_runner=True
        )
        set_rng_state(state["rng"])
        self.env_steps = int(state.get("env_steps", 0))

    def policy(self) -> Policy:
        from agents.rllib.policy import RLlibPolicy

        module = self.algo.get_module()
        assert module is not None
        return RLlibPolicy(module, self.cfg.name)

    def coverage(self) -> CoverageSnapshot:
        """Counters of the envs of every env runner (the local one samples only without remote runners)."""
        snapshots = self._group().foreach_env_runner(_runner_coverage, local_env_runner=True)
        return merge([s for s in snapshots if s is not None])

    def close(self) -> None:
        self.algo.stop()

    def _group(self) -> Any:
        group = self.algo.env_runner_group
        assert group is not None
        return group


class SB3Trainer:
    """SB3 PPO over the same batched env (same-step autoreset for SB3's ``VecEnv`` contract)."""

    def __init__(self, cfg: PPOConfig, core: EnvCore, seed: int) -> None:
        from agents.sb3.ppo import build_sb3_ppo
        from agents.sb3.vec_env import SB3VecEnv
        from envs.vector_env import AsterPerpVectorEnv

        self.cfg = cfg
        self.venv = SB3VecEnv(AsterPerpVectorEnv(num_envs=cfg.num_envs_per_env_runner, core=core))
        self.model = build_sb3_ppo(cfg, self.venv, seed)
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
        self.model.save(str(directory / SB3_MODEL))
        adapter = {name: getattr(self.venv, name).copy() for name in ("_returns", "_lengths")}
        _write_state(directory, {"rng": rng_state(), "env": self.venv.env.get_state(), "adapter": adapter})
        return directory

    def restore(self, directory: Path) -> None:
        """Continue exactly from a checkpoint of this config (weights, optimizer, last observations, env
        state, random streams); one line when its files are not an SB3 checkpoint."""
        from stable_baselines3 import PPO

        verify_checkpoint(directory, read_info(directory))
        path = directory / SB3_MODEL
        state = _read_state(directory)
        try:
            self.model = PPO.load(str(path), env=self.venv, device=self.model.device, force_reset=False)
        except Exception as exc:  # SB3, torch and zipfile raise many kinds for a bad file
            raise damaged(directory, exc) from None
        self.venv.env.set_state(state["env"])
        for name, value in state.get("adapter", {}).items():
            getattr(self.venv, name)[:] = value
        set_rng_state(state["rng"])
        self.env_steps = int(self.model.num_timesteps)

    def policy(self) -> Policy:
        from agents.sb3.ppo import SB3Policy

        return SB3Policy(self.model, self.cfg.name)

    def coverage(self) -> CoverageSnapshot:
        return self.venv.env.coverage.snapshot()

    def close(self) -> None:
        self.venv.close()


def _vector_env(runner: Any) -> Any:
    env = getattr(runner, "env", None)
    return None if env is None else env.unwrapped


def _runner_coverage(runner: Any) -> CoverageSnapshot | None:
    """The coverage counters of an RLlib env runner's vector env (``None`` for a runner without an env)."""
    env = _vector_env(runner)
    if env is None:
        return None
    snapshot: CoverageSnapshot = env.coverage.snapshot()
    return snapshot


def _runner_env_state(runner: Any) -> tuple[int, dict[str, Any] | None]:
    env = _vector_env(runner)
    return int(runner.worker_index or 0), (None if env is None else env.get_state())


def _restore_runner_env(runner: Any, states: dict[int, dict[str, Any]]) -> None:
    """Put a runner's env back in its saved state, and keep the runner from re-seeding it at its first
    reset (RLlib seeds the envs on a runner's initial reset; the restored streams must continue)."""
    env = _vector_env(runner)
    state = states.get(int(runner.worker_index or 0))
    if env is not None and state is not None:
        env.set_state(state)
        runner._seed = None
