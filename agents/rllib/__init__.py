"""Ray RLlib PPO on the new API stack (RLModule, Learner, EnvRunner) over the batched vector env."""

from agents.rllib.config import ENV_NAME, build_rllib_ppo, learner_gpus, register_env
from agents.rllib.policy import RLlibPolicy, module_path

__all__ = ["ENV_NAME", "RLlibPolicy", "build_rllib_ppo", "learner_gpus", "module_path", "register_env"]
