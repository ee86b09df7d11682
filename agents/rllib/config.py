"""RLlib ``PPOConfig`` from the shared ``agents.config.PPOConfig``.

The env runners step ``AsterPerpVectorEnv`` natively (``VectorizeMode.VECTOR_ENTRY_POINT``): one numba
call steps all ``num_envs_per_env_runner`` accounts. The env is registered with Ray's registry under
``ENV_NAME`` and built from the ``EnvCore`` passed in ``env_config["core"]``, so every runner, local or
remote, trades the same prepared data without reading it again.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import torch
from ray.rllib.algorithms.ppo import PPOConfig as RLlibPPOConfig
from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig
from ray.tune.registry import register_env as ray_register_env

from agents.config import PPOConfig
from asterrl.errors import ConfigError
from envs.core import EnvCore
from envs.vector_env import AsterPerpVectorEnv

#: Name of the env in Ray's registry.
ENV_NAME = "asterrl_perp_vector"


def _make_env(ctx: dict[str, Any]) -> AsterPerpVectorEnv:
    return AsterPerpVectorEnv(num_envs=int(ctx.get("num_envs", 1)), core=ctx["core"])


def register_env() -> None:
    """Register ``ENV_NAME`` with Ray (call after ``ray.init``; idempotent)."""
    ray_register_env(ENV_NAME, _make_env)


def learner_gpus(setting: str, cuda_available: bool | None = None) -> int:
    """GPUs of the learner: 1 when ``setting`` is ``cuda``, or ``auto`` and torch sees CUDA; else 0."""
    available = torch.cuda.is_available() if cuda_available is None else cuda_available
    if setting == "cuda" and not available:
        raise ConfigError("agent.learner_device=cuda but torch sees no CUDA device")
    return 1 if setting == "cuda" or (setting == "auto" and available) else 0


def build_rllib_ppo(
    cfg: PPOConfig, core: EnvCore, seed: int, cuda_available: bool | None = None
) -> RLlibPPOConfig:
    """The RLlib PPO config of ``cfg`` over ``core`` (next-step autoreset), seeded with ``seed``."""
    if core.config.autoreset_mode != "next_step":
        raise ConfigError("RLlib needs env.autoreset_mode=next_step")
    n_envs = cfg.num_envs_per_env_runner
    fragment: int | str = cfg.rollout_fragment_length or "auto"
    config = (
        RLlibPPOConfig()
        .environment(ENV_NAME, env_config={"core": core})
        .framework("torch")
        .env_runners(
            num_env_runners=cfg.num_env_runners,
            num_envs_per_env_runner=n_envs,
            gym_env_vectorize_mode=gym.VectorizeMode.VECTOR_ENTRY_POINT,
            rollout_fragment_length=fragment,
            num_cpus_per_env_runner=1,
        )
        .learners(num_learners=0, num_gpus_per_learner=learner_gpus(cfg.learner_device, cuda_available))
        .training(
            lr=cfg.lr,
            gamma=cfg.gamma,
            lambda_=cfg.lambda_,
            clip_param=cfg.clip_param,
            vf_clip_param=cfg.vf_clip_param,
            entropy_coeff=cfg.entropy_coeff,
            vf_loss_coeff=cfg.vf_loss_coeff,
            use_kl_loss=cfg.use_kl_loss,
            kl_coeff=cfg.kl_coeff,
            kl_target=cfg.kl_target,
            grad_clip=cfg.grad_clip,
            grad_clip_by="global_norm",
            train_batch_size_per_learner=cfg.train_batch_size,
            minibatch_size=cfg.minibatch_size,
            num_epochs=cfg.num_epochs,
        )
        .rl_module(
            model_config=DefaultModelConfig(
                fcnet_hiddens=list(cfg.hidden_sizes),
                fcnet_activation=cfg.activation,
                head_fcnet_hiddens=[],
                vf_share_layers=False,
                use_lstm=cfg.use_lstm,
                lstm_cell_size=cfg.lstm_cell_size,
                max_seq_len=cfg.max_seq_len,
            )
        )
        .reporting(metrics_num_episodes_for_smoothing=20)
        .debugging(seed=seed, log_level="ERROR")
    )
    return config
