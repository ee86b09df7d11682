"""Gymnasium environments on ``asterrl.sim`` and ``asterrl.observation``.

``import envs`` registers ``asterrl/AsterPerp-v0`` (single env, and the batched numba env through
``gymnasium.make_vec(..., vectorization_mode="vector_entry_point")``).
"""

from __future__ import annotations

import gymnasium as gym

from envs.config import EnvConfig
from envs.core import EnvCore, build_core
from envs.perp_env import AsterPerpEnv
from envs.vector_env import AsterPerpVectorEnv

ENV_ID = "asterrl/AsterPerp-v0"


def register() -> None:
    """Register ``asterrl/AsterPerp-v0`` with Gymnasium (idempotent)."""
    if ENV_ID not in gym.registry:
        gym.register(
            id=ENV_ID,
            entry_point="envs.perp_env:AsterPerpEnv",
            vector_entry_point="envs.vector_env:AsterPerpVectorEnv",
            disable_env_checker=False,
        )


register()

__all__ = ["ENV_ID", "AsterPerpEnv", "AsterPerpVectorEnv", "EnvConfig", "EnvCore", "build_core", "register"]
