"""Ray RLlib PPO on the new API stack (RLModule, Learner, EnvRunner) over the batched vector env."""

from agents.rllib.config import (
    ENV_NAME,
    build_rllib_ppo,
    core_fingerprint,
    learner_gpus,
    learner_workload,
    register_env,
)
from agents.rllib.env_runner import ArrayEnvRunner
from agents.rllib.policy import RLlibPolicy, module_path

__all__ = [
    "ENV_NAME",
    "ArrayEnvRunner",
    "RLlibPolicy",
    "build_rllib_ppo",
    "core_fingerprint",
    "learner_gpus",
    "learner_workload",
    "module_path",
    "register_env",
]
