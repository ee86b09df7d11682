"""``AsterPerpEnv``: one account trading a USDT-margined perpetual, a ``gymnasium.Env``.

Each step is the decision at bar ``t``'s close: the action sets a target position, the order fills at bar
``t + 1``'s open through the risk gate and the market model, and the observation is built at ``t + 1``'s
close. ``info`` carries the step's fees, funding, slippage, fill, equity and the liquidation flag (keys in
``asterrl.sim.layout.REPORT_KEYS``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import numpy.typing as npt

from asterrl.errors import ConfigError
from asterrl.sim.layout import Account, Counter, Report, report_dict_source
from envs.core import EnvCore, build_core
from envs.coverage import EpisodeCoverage
from envs.kernels import new_single_state, reset_accounts, step_single
from envs.layout import C_ENV, EnvParam

_R_REWARD, _R_TERMINATED, _R_TRUNCATED = Report.REWARD.value, Report.TERMINATED.value, Report.TRUNCATED.value
_R_BAR = Report.BAR.value
_empty, _FLOAT32 = np.empty, np.float32  # module globals: each step allocates its new observation


def _report_info_builder() -> Callable[[list[float]], dict[str, float]]:
    """``report_info``: a dict display over ``REPORT_KEYS`` generated from the one list of report names
    (the fastest way CPython builds a dict of known keys, and this runs every step)."""
    namespace: dict[str, Any] = {}
    exec(report_dict_source("report_info"), namespace)
    built: Callable[[list[float]], dict[str, float]] = namespace["report_info"]
    built.__doc__ = "The step report as ``info``: keys ``asterrl.sim.layout.REPORT_KEYS``, in that order."
    return built


report_info = _report_info_builder()


def _scalar_action(action: Any) -> float:
    """The action as one float: a Python or NumPy number, or any array holding exactly one value."""
    if isinstance(action, (int, float, np.number)):
        return float(action)
    values = np.asarray(action, dtype=np.float64)
    if values.size != 1:
        raise ConfigError(f"expected one action value, got shape {values.shape}")
    return float(values.reshape(-1)[0])


class AsterPerpEnv(gym.Env[Any, Any]):
    """Single-account perp trading env (``asterrl/AsterPerp-v0``).

    Arguments are those of ``envs.core.build_core``: ``config`` (``EnvConfig``, dict or OmegaConf node),
    ``risk`` (``RiskLimits``), ``data``/``funding``/``mark`` (DataFrames or file paths; the store when
    omitted), ``features`` (a ``FeatureMatrix``), and any ``EnvConfig`` field as a keyword override.

    ``step`` returns a new observation array every call (nothing it returned is overwritten later).
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 (gymnasium's class attribute)

    def __init__(self, core: EnvCore | None = None, render_mode: str | None = None, **kwargs: Any) -> None:
        self.core = core if core is not None else build_core(**kwargs)
        self.render_mode = render_mode
        self.observation_space = self.core.observation_space
        self.action_space = self.core.action_space
        # State, report, int state and constants in one array for the kernel to take (views for the rest).
        views = new_single_state(self.core.consts)
        self._state, self._fstate, self._report, self._istate, self._consts = views
        self._consts[C_ENV + EnvParam.SAME_STEP] = 0.0  # a single env never resets itself
        self._market = self.core.data.values
        self._features = self.core.features_flat
        self._obs_size = self.core.obs_size
        self._box = self.core.layout.kind == "box"
        self._seeded = False
        self._done = True
        #: Episode starts and visited bars (``envs.coverage``).
        self.coverage = EpisodeCoverage(*self.core.coverage_range)
        self._episode_start = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Start an episode; a ``seed`` restarts the stream of episode starts (same seed, same episodes).

        ``options={"start_bar": b}`` starts this episode at decision bar ``b`` (an index into the data,
        within ``core.start_bounds``) instead of drawing it, e.g. for evaluation; the stream is not advanced.
        """
        super().reset(seed=seed)
        reseed = seed is not None or not self._seeded
        if seed is None and reseed:
            seed = int(self.np_random.integers(0, 2**63 - 1))
        seeds = np.array([0 if seed is None else seed % 2**64], dtype=np.uint64)
        starts = self.core.start_bars((options or {}).get("start_bar"), 1)
        obs = np.empty(self._obs_size, dtype=np.float32)
        reset_accounts(
            np.ones(1, dtype=np.bool_),
            np.array([reseed]),
            seeds,
            starts,
            self._fstate,
            self._istate,
            self._market,
            self._features,
            self._consts,
            obs.reshape(1, -1),
        )
        self._seeded = True
        self._done = False
        bar = int(self._istate[Counter.BAR, 0])
        self.coverage.record_starts(bar)
        self._episode_start = bar
        info = {
            "equity": float(self._fstate[Account.EQUITY, 0]),
            "bar": bar,
            "timestamp": int(self.core.data.timestamps[bar]),
        }
        return (obs if self._box else self.core.format_obs(obs)), info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Trade towards the action's target position and advance one bar."""
        if self._done:
            raise ConfigError("step() called on an ended episode: call reset() first")
        obs: npt.NDArray[np.float32] = _empty(self._obs_size, _FLOAT32)
        kind = type(action)  # the common cases first: a Python int (discrete) or float, converted inline
        value = float(action) if kind is int or kind is float else _scalar_action(action)
        step_single(value, self._state, self._market, self._features, obs)
        values: list[float] = self._report.tolist()
        terminated = values[_R_TERMINATED] != 0.0
        truncated = values[_R_TRUNCATED] != 0.0
        self._done = terminated or truncated
        if self._done:
            self.coverage.record_spans(self._episode_start, int(values[_R_BAR]))
        return (
            obs if self._box else self.core.format_obs(obs),
            values[_R_REWARD],
            terminated,
            truncated,
            report_info(values),
        )
