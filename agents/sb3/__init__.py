"""Stable-Baselines3 PPO, the baseline: a ``VecEnv`` adapter over the batched env, training, a ``Policy``."""

from agents.sb3.ppo import SB3Policy, build_sb3_ppo, sb3_iteration_metrics
from agents.sb3.vec_env import SB3VecEnv

__all__ = ["SB3Policy", "SB3VecEnv", "build_sb3_ppo", "sb3_iteration_metrics"]
