"""RLlib ``PPOConfig`` from the shared ``agents.config.PPOConfig``.

The env runners step ``AsterPerpVectorEnv`` natively (``VectorizeMode.VECTOR_ENTRY_POINT``): one numba
call steps all ``num_envs_per_env_runner`` accounts, and ``ArrayEnvRunner`` records those steps as arrays
rather than per-account Python objects. The env is registered with Ray's registry under a name derived from
the ``EnvCore``'s fingerprint (``register_env``): the registry, not the algorithm config, carries the
prepared market data to every runner, so checkpoints (which pickle the config four times) hold only the
fingerprint. A checkpoint is restored by registering the same core (rebuilt from the run's ``config.yaml``,
whose data hash ``run.json`` records) and building the algorithm from this config before
``restore_from_path``.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any

import gymnasium as gym
import numpy as np
from ray.rllib.algorithms.ppo import PPOConfig as RLlibPPOConfig
from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig
from ray.tune.registry import register_env as ray_register_env

from agents.config import PPOConfig
from agents.rllib.env_runner import ArrayEnvRunner
from agents.rllib.learner import ArrayPPOLearner
from agents.rllib.learner_device import LearnerWorkload, learner_on_gpu
from asterrl.errors import ConfigError
from envs.core import EnvCore
from envs.vector_env import AsterPerpVectorEnv

#: Prefix of the env's names in Ray's registry (``<prefix>-<fingerprint>``).
ENV_NAME = "asterrl_perp_vector"


def core_fingerprint(core: EnvCore) -> str:
    """Hex digest of everything the env's kernels read: market arrays, features, constants, spaces."""
    digest = hashlib.blake2b(digest_size=16)
    for array in (core.data.values, core.data.timestamps, core.features_flat, core.consts):
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update(
        repr((core.config, core.risk, core.layout, core.observation_space, core.action_space)).encode()
    )
    return digest.hexdigest()


def _make_env(core: EnvCore, ctx: dict[str, Any]) -> AsterPerpVectorEnv:
    return AsterPerpVectorEnv(num_envs=int(ctx.get("num_envs", 1)), core=core)


def register_env(core: EnvCore) -> str:
    """Register the vector env over ``core`` with Ray (after ``ray.init``); return its registry name.

    The same core always gets the same name, so registering it again (a resume, a second trainer) is
    harmless; a different core never overwrites another's entry.
    """
    name = f"{ENV_NAME}-{core_fingerprint(core)}"
    ray_register_env(name, functools.partial(_make_env, core))
    return name


def learner_workload(cfg: PPOConfig, core: EnvCore) -> LearnerWorkload:
    """The minibatch update of ``cfg``'s network on ``core``'s observations (for the device rule)."""
    space = core.action_space
    n_outputs = (
        int(space.n) if isinstance(space, gym.spaces.Discrete) else 2 * int(np.prod(space.shape or ()))
    )
    return LearnerWorkload(
        obs_size=core.obs_size,
        hidden_sizes=tuple(cfg.hidden_sizes),
        n_outputs=n_outputs,
        minibatch_size=cfg.minibatch_size,
        threads=cfg.torch_threads,
    )


def learner_gpus(cfg: PPOConfig, core: EnvCore, cuda_available: bool | None = None) -> int:
    """GPUs of the learner (0 or 1): ``agent.learner_device``, ``auto`` by the measured rule."""
    return int(learner_on_gpu(cfg.learner_device, learner_workload(cfg, core), cuda_available))


def build_rllib_ppo(
    cfg: PPOConfig, core: EnvCore, seed: int, cuda_available: bool | None = None
) -> RLlibPPOConfig:
    """The RLlib PPO config of ``cfg`` over ``core`` (next-step autoreset), seeded with ``seed``.

    Registers the env (``register_env``), so Ray must be running.
    """
    if core.config.autoreset_mode != "next_step":
        raise ConfigError("RLlib needs env.autoreset_mode=next_step")
    fragment: int | str = cfg.rollout_fragment_length or "auto"
    fingerprint = core_fingerprint(core)
    config = (
        RLlibPPOConfig()
        .environment(register_env(core), env_config={"env_fingerprint": fingerprint})
        .framework("torch")
        .env_runners(
            env_runner_cls=ArrayEnvRunner,
            num_env_runners=cfg.num_env_runners,
            num_envs_per_env_runner=cfg.num_envs_per_env_runner,
            gym_env_vectorize_mode=gym.VectorizeMode.VECTOR_ENTRY_POINT,
            rollout_fragment_length=fragment,
            num_cpus_per_env_runner=1,
        )
        .learners(
            num_learners=0,
            num_gpus_per_learner=learner_gpus(cfg, core, cuda_available),
            learner_class=ArrayPPOLearner,
        )
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
