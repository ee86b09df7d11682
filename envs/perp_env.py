"""``AsterPerpEnv``: one account trading a USDT-margined perpetual, a ``gymnasium.Env``.

Each step is the decision at bar ``t``'s close: the action sets a target position, the order fills at bar
``t + 1``'s open through the risk gate and the market model, and the observation is built at ``t + 1``'s
close. ``info`` carries the step's fees, funding, slippage, fill, equity and the liquidation flag (keys in
``asterrl.sim.layout.REPORT_KEYS``).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import numpy.typing as npt

from asterrl.errors import ConfigError
from asterrl.sim import layout as L
from asterrl.sim.account import new_state
from envs.core import EnvCore, build_core
from envs.kernels import E_SAME_STEP, reset_accounts, step_accounts

_KEYS = L.REPORT_KEYS


class AsterPerpEnv(gym.Env[Any, Any]):
    """Single-account perp trading env (``asterrl/AsterPerp-v0``).

    Arguments are those of ``envs.core.build_core``: ``config`` (``EnvConfig``, dict or OmegaConf node),
    ``risk`` (``RiskLimits``), ``data``/``funding``/``mark`` (DataFrames or file paths; the store when
    omitted), ``features`` (a ``FeatureMatrix``), and any ``EnvConfig`` field as a keyword override.
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 (gymnasium's class attribute)

    def __init__(self, core: EnvCore | None = None, render_mode: str | None = None, **kwargs: Any) -> None:
        self.core = core if core is not None else build_core(**kwargs)
        self.render_mode = render_mode
        self.observation_space = self.core.observation_space
        self.action_space = self.core.action_space
        self._fstate, self._istate = new_state(1)
        self._rng = np.zeros(1, dtype=np.uint64)
        self._actions = np.zeros(1, dtype=np.float64)
        self._report = np.zeros((1, L.N_REPORT), dtype=np.float64)
        self._final = np.zeros((1, self.core.obs_size), dtype=np.float32)
        self._env_params = self.core.env_params.copy()
        self._env_params[E_SAME_STEP] = 0.0  # a single env never resets itself
        self._seeded = False
        self._done = True

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Start an episode; a ``seed`` restarts the stream of episode starts (same seed, same episodes)."""
        super().reset(seed=seed)
        reseed = seed is not None or not self._seeded
        if seed is None and reseed:
            seed = int(self.np_random.integers(0, 2**63 - 1))
        seeds = np.array([0 if seed is None else seed % 2**64], dtype=np.uint64)
        obs = np.empty((1, self.core.obs_size), dtype=np.float32)
        c = self.core
        reset_accounts(
            np.ones(1, dtype=np.bool_),
            np.array([reseed]),
            seeds,
            self._fstate,
            self._istate,
            self._rng,
            c.data.values,
            c.features_flat,
            self._env_params,
            c.brackets,
            obs,
        )
        self._seeded = True
        self._done = False
        bar = int(self._istate[L.I_BAR, 0])
        info = {
            "equity": float(self._fstate[L.S_EQUITY, 0]),
            "bar": bar,
            "timestamp": int(c.data.timestamps[bar]),
        }
        return c.format_obs(obs[0]), info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Trade towards the action's target position and advance one bar."""
        if self._done:
            raise ConfigError("step() called on an ended episode: call reset() first")
        self._actions[:] = action
        obs: npt.NDArray[np.float32] = np.empty((1, self.core.obs_size), dtype=np.float32)
        c = self.core
        step_accounts(
            self._actions,
            self._fstate,
            self._istate,
            self._rng,
            c.data.values,
            c.features_flat,
            c.params,
            self._env_params,
            c.levels,
            c.brackets,
            c.limits,
            obs,
            self._report,
            self._final,
        )
        values = self._report[0].tolist()
        info = dict(zip(_KEYS, values, strict=True))
        terminated = values[L.R_TERMINATED] != 0.0
        truncated = values[L.R_TRUNCATED] != 0.0
        self._done = terminated or truncated
        return c.format_obs(obs[0]), values[L.R_REWARD], terminated, truncated, info
