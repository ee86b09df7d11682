"""SB3 PPO from the shared ``PPOConfig``: model construction, per-iteration metrics, and a ``Policy``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from stable_baselines3 import PPO

from agents.config import PPOConfig
from agents.policy import DecisionContext
from agents.sb3.vec_env import SB3VecEnv
from asterrl.errors import ConfigError
from asterrl.files import atomic_path

_ACTIVATIONS: dict[str, type[torch.nn.Module]] = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}


def torch_device(setting: str, cuda_available: bool | None = None) -> str:
    """``cuda`` only for ``agent.learner_device=cuda``; ``auto`` and ``cpu`` are the CPU.

    SB3's PPO here always has an MLP policy, and SB3 advises running those on the CPU: its rollouts
    call the policy once per vector step, and a GPU round trip per step costs more than the small
    network saves.
    """
    available = torch.cuda.is_available() if cuda_available is None else cuda_available
    if setting == "cuda" and not available:
        raise ConfigError("agent.learner_device=cuda but torch sees no CUDA device")
    return "cuda" if setting == "cuda" else "cpu"


def build_sb3_ppo(cfg: PPOConfig, venv: SB3VecEnv, seed: int) -> PPO:
    """An SB3 PPO model on ``venv`` with the hyperparameters of ``cfg``.

    ``n_steps`` per env is ``train_batch_size / num_envs`` so that one iteration (``learn`` of
    ``train_batch_size`` steps) collects the same batch as RLlib's.
    """
    n_steps = max(1, cfg.train_batch_size // venv.num_envs)
    if (n_steps * venv.num_envs) % cfg.minibatch_size:
        raise ConfigError("agent.minibatch_size must divide agent.train_batch_size for SB3")
    venv.seed(seed)
    return PPO(
        "MlpPolicy",
        venv,
        learning_rate=cfg.lr,
        n_steps=n_steps,
        batch_size=cfg.minibatch_size,
        n_epochs=cfg.num_epochs,
        gamma=cfg.gamma,
        gae_lambda=cfg.lambda_,
        clip_range=cfg.clip_param,
        clip_range_vf=None,
        ent_coef=cfg.entropy_coeff,
        vf_coef=cfg.vf_loss_coeff,
        max_grad_norm=cfg.grad_clip,
        target_kl=cfg.kl_target if cfg.use_kl_loss else None,
        policy_kwargs={
            "net_arch": {"pi": list(cfg.hidden_sizes), "vf": list(cfg.hidden_sizes)},
            "activation_fn": _ACTIVATIONS[cfg.activation],
        },
        seed=seed,
        device=torch_device(cfg.learner_device),
        verbose=0,
    )


def sb3_iteration_metrics(model: PPO) -> dict[str, float]:
    """The RL scalars of the last ``learn`` call under the shared keys (``experiments.training`` tags)."""
    values = dict(model.logger.name_to_value)
    out: dict[str, float] = {}
    names = {
        "policy_loss": "train/policy_gradient_loss",
        "vf_loss": "train/value_loss",
        "kl": "train/approx_kl",
    }
    for key, name in names.items():
        if name in values:
            out[key] = float(values[name])
    if "train/entropy_loss" in values:
        out["entropy"] = -float(values["train/entropy_loss"])
    episodes = list(model.ep_info_buffer or [])
    if episodes:
        out["episode_return_mean"] = float(np.mean([e["r"] for e in episodes]))
        out["episode_len_mean"] = float(np.mean([e["l"] for e in episodes]))
    return out


class SB3Policy:
    """A trained SB3 PPO as a ``Policy`` (deterministic: the most likely action)."""

    def __init__(self, model: PPO, name: str = "sb3_ppo") -> None:
        self.model = model
        self.name = name

    @classmethod
    def load(cls, path: str | Path, name: str = "sb3_ppo") -> SB3Policy:
        """Load ``model.zip`` from a checkpoint directory (or the zip itself), on the CPU."""
        target = Path(path)
        target = target / "model.zip" if target.is_dir() else target
        if not target.exists():
            raise ConfigError(f"no SB3 model at {target}")
        return cls(PPO.load(str(target), device="cpu"), name)

    def act(
        self, observations: npt.NDArray[np.float32], context: DecisionContext | None = None
    ) -> npt.NDArray[np.int64] | npt.NDArray[np.float64]:
        actions, _ = self.model.predict(observations, deterministic=True)
        return np.asarray(actions)

    def reset(self, mask: npt.NDArray[np.bool_] | None = None) -> None:
        """Feed-forward policy: no state."""

    def seed(self, seed: int) -> None:
        self.model.set_random_seed(seed)

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "model.zip"
        with atomic_path(path) as temporary:
            self.model.save(str(temporary))
        return path


def learn_iteration(model: PPO, steps: int) -> dict[str, Any]:
    """One PPO iteration (rollout of ``steps`` env steps, then the update); returns its RL scalars."""
    model.learn(total_timesteps=steps, reset_num_timesteps=False, log_interval=None, progress_bar=False)  # type: ignore[arg-type]
    return sb3_iteration_metrics(model)
