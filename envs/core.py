"""``EnvCore``: what the single and the vector env share, built once from config and data.

It resolves the market (``envs.market_source``: the run's data with its instrument, a data config, or bars
with an instrument), prepares the market arrays and the feature matrix, turns the date split into bar
indices, packs the parameter arrays the kernels read, and defines the spaces. Both envs hold one and differ
only in how many accounts they step.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import numpy.typing as npt
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from asterrl.data.config import DataConfig
from asterrl.data.market import MarketData
from asterrl.errors import ConfigError, DataError
from asterrl.observation import (
    ACCOUNT_FIELDS,
    N_ACCOUNT_FIELDS,
    FeatureMatrix,
    ObservationLayout,
    builtin_features,
    nan_free,
)
from asterrl.risk.limits import RiskLimits
from asterrl.sim.instrument import Instrument
from asterrl.sim.market_arrays import DAY_MS, MarketArrays
from envs.config import SPLIT_NAMES, EnvConfig
from envs.kernels import pack_constants
from envs.layout import C_ENV, N_ENV_PARAMS, EnvParam
from envs.market_source import Frame, env_market


def _as_config(
    config: EnvConfig | dict[str, Any] | DictConfig | None, overrides: dict[str, Any]
) -> EnvConfig:
    """An ``EnvConfig`` from a dataclass, a dict or an OmegaConf node, with keyword overrides merged in."""
    schema = OmegaConf.structured(EnvConfig)
    base = OmegaConf.structured(config) if isinstance(config, EnvConfig) else config or {}
    try:
        merged = OmegaConf.merge(schema, base, overrides)
        out = OmegaConf.to_object(merged)
    except Exception as error:  # omegaconf raises several types for bad keys and values
        raise ConfigError(f"invalid env config: {str(error).splitlines()[0]}") from None
    assert isinstance(out, EnvConfig)
    return out.validate()


def _as_risk(risk: RiskLimits | dict[str, Any] | DictConfig | None, instrument: Instrument) -> RiskLimits:
    """Validated limits (against the instrument); a dict or node is merged over ``RiskLimits()``."""
    if isinstance(risk, RiskLimits):
        return dataclasses.replace(risk).validate(instrument)
    try:
        out = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(RiskLimits), risk or {}))
    except Exception as error:  # omegaconf raises several types for bad keys and values
        raise ConfigError(f"invalid risk config: {str(error).splitlines()[0]}") from None
    assert isinstance(out, RiskLimits)
    return out.validate(instrument)


def split_rows(cfg: EnvConfig, timestamps: np.ndarray) -> np.ndarray:
    """Row indices of the bars in ``cfg.split``: by the date ranges of ``cfg.splits`` when given, else by
    ``cfg.split_fractions`` of all bars in time order."""
    if cfg.splits:
        if cfg.split not in cfg.splits:
            raise ConfigError(f"unknown split {cfg.split!r}")
        first_day, last_day = cfg.splits[cfg.split]
        lo_ms, hi_ms = _day_ms(first_day), _day_ms(last_day) + DAY_MS
        inside = np.flatnonzero((timestamps >= lo_ms) & (timestamps < hi_ms))
        where = f"{first_day}..{last_day}"
    else:
        bounds = np.round(np.cumsum([0.0, *cfg.split_fractions]) * len(timestamps)).astype(np.int64)
        index = SPLIT_NAMES.index(cfg.split)
        inside = np.arange(bounds[index], bounds[index + 1])
        where = f"{cfg.split_fractions[index]:.0%} of {len(timestamps)} bars"
    if inside.size < 2:
        raise ConfigError(f"split {cfg.split!r} ({where}) holds fewer than 2 bars of data")
    return inside


def _day_ms(day: str) -> int:
    try:
        return int(pd.Timestamp(day, tz="UTC").value // 1_000_000)
    except ValueError as error:
        raise ConfigError(f"invalid date {day!r} in env.splits") from error


@dataclass
class EnvCore:
    """Arrays and spaces shared by the single and the vector env."""

    config: EnvConfig
    risk: RiskLimits
    instrument: Instrument
    data: MarketArrays
    features: FeatureMatrix
    layout: ObservationLayout
    features_flat: npt.NDArray[np.float32]
    params: npt.NDArray[np.float64]
    env_params: npt.NDArray[np.float64]
    levels: npt.NDArray[np.float64]
    brackets: npt.NDArray[np.float64]
    limits: npt.NDArray[np.float64]
    observation_space: gym.Space[Any]
    action_space: gym.Space[Any]
    consts: npt.NDArray[np.float64]

    @property
    def obs_size(self) -> int:
        """Length of one flat observation."""
        return self.layout.size

    @property
    def start_bounds(self) -> tuple[int, int]:
        """First and last decision bar an episode may start on (``reset(options={"start_bar": ...})``).

        The first leaves a full feature window inside the data; the last leaves one bar to trade in the split.
        Random starts are drawn from ``[first, EnvParam.START_HI]``, which also leaves a full episode.
        """
        return int(self.env_params[EnvParam.START_LO]), int(self.env_params[EnvParam.SPLIT_END]) - 1

    @property
    def position_scale(self) -> float:
        """Leverage that an action of 1.0 targets: ``risk.max_leverage`` (the one leverage)."""
        return float(self.env_params[EnvParam.POSITION_SCALE])

    @property
    def coverage_range(self) -> tuple[int, int, int]:
        """``(start_lo, start_hi, split_end)``: the bars random starts are drawn from and the split's end."""
        e = self.env_params
        return int(e[EnvParam.START_LO]), int(e[EnvParam.START_HI]), int(e[EnvParam.SPLIT_END])

    def start_bars(self, start_bar: Any, n: int) -> npt.NDArray[np.int64]:
        """``n`` episode starts from ``options["start_bar"]`` (an int or one per env; ``None``/-1 draws)."""
        if start_bar is None:
            return np.full(n, -1, dtype=np.int64)
        starts = np.broadcast_to(np.asarray(start_bar, dtype=np.int64), (n,)).copy()
        lo, hi = self.start_bounds
        chosen = starts[starts >= 0]
        if chosen.size and (chosen.min() < lo or chosen.max() > hi):
            raise ConfigError(f"start_bar must lie in [{lo}, {hi}] for this split and window (or be -1)")
        return starts

    def format_obs(self, flat: npt.NDArray[np.float32]) -> Any:
        """The flat buffer (one row or a batch) in the configured observation form."""
        if self.layout.kind == "box":
            return flat
        n = self.layout.window * self.layout.n_features
        lead = flat.shape[:-1]
        return {
            "features": flat[..., :n].reshape(*lead, self.layout.window, self.layout.n_features),
            "account": flat[..., n:],
        }


def build_core(
    config: EnvConfig | dict[str, Any] | DictConfig | None = None,
    risk: RiskLimits | dict[str, Any] | DictConfig | None = None,
    data: MarketData | Frame = None,
    funding: Frame = None,
    mark: Frame = None,
    features: FeatureMatrix | None = None,
    instrument: Instrument | str | None = None,
    data_config: DataConfig | dict[str, Any] | DictConfig | None = None,
    **overrides: Any,
) -> EnvCore:
    """Resolve config and data and build an ``EnvCore``.

    :param data: the run's ``MarketData`` (bars, funding, mark and instrument), or bars as a DataFrame or a
        file path (then ``instrument`` is required); ``None`` loads ``data_config``.
    :param funding: funding frame or file (optional, with bars given as a frame or file).
    :param mark: mark-price frame or file (optional, idem).
    :param features: feature matrix aligned with the bars; ``None`` uses ``builtin_features``.
    :param instrument: the traded symbol's ``Instrument``, or its symbol (see ``envs.market_source``).
    :param data_config: a data section (``asterrl.data.config.DataConfig`` or its keys) to load.
    :param overrides: any ``EnvConfig`` field, e.g. ``window=16``.
    """
    cfg = _as_config(config, overrides)
    source = env_market(data, funding, mark, instrument, data_config)
    limits = _as_risk(risk, source.instrument)
    bars = source.bars.reset_index(drop=True)
    market = MarketArrays.from_frames(
        bars, source.funding, source.mark, cfg.market.costs, decision_latency_ms=cfg.decision_latency_ms
    )
    feats = features if features is not None else builtin_features(bars)
    if feats.values.shape[0] != market.n_bars:
        raise DataError(f"features hold {feats.values.shape[0]} rows for {market.n_bars} bars")
    first_valid = feats.first_valid_row
    layout = ObservationLayout(cfg.window, feats.columns, cfg.observation, ACCOUNT_FIELDS)

    inside = split_rows(cfg, market.timestamps)
    split_end = int(inside[-1])
    start_lo = max(int(inside[0]), first_valid + cfg.window - 1)
    start_hi = split_end - cfg.episode_length if cfg.episode_length > 0 else split_end - 1
    if start_hi < start_lo:
        raise ConfigError(
            f"split {cfg.split!r} is too short for window {cfg.window} "
            f"and episode_length {cfg.episode_length}"
        )

    env = np.zeros(N_ENV_PARAMS, dtype=np.float64)
    env[EnvParam.INITIAL_BALANCE] = cfg.initial_balance
    env[EnvParam.POSITION_SCALE] = limits.max_leverage
    env[EnvParam.DEADBAND] = cfg.deadband
    env[EnvParam.MIN_HOLD] = cfg.min_hold_bars
    env[EnvParam.DISCRETE] = 1.0 if cfg.action_type == "discrete" else 0.0
    env[EnvParam.REWARD_KIND] = 0.0 if cfg.reward == "log_return" else 1.0
    env[EnvParam.DSR_ETA] = cfg.dsr_eta
    env[EnvParam.DRAWDOWN_PENALTY] = cfg.drawdown_penalty
    env[EnvParam.TURNOVER_PENALTY] = cfg.turnover_penalty
    env[EnvParam.REWARD_SCALE] = cfg.reward_scale
    env[EnvParam.WINDOW] = cfg.window
    env[EnvParam.N_FEATURES] = layout.n_features
    env[EnvParam.EPISODE_LENGTH] = cfg.episode_length
    env[EnvParam.START_LO] = start_lo
    env[EnvParam.START_HI] = start_hi
    env[EnvParam.SPLIT_END] = split_end
    env[EnvParam.RANDOM_START] = 1.0 if cfg.random_start else 0.0
    env[EnvParam.SAME_STEP] = 1.0 if cfg.autoreset_mode == "same_step" else 0.0
    env[EnvParam.LIMIT_ORDERS] = 1.0 if cfg.order_type == "limit" else 0.0
    env[EnvParam.LIMIT_OFFSET] = cfg.limit_offset_bps * 1e-4
    params = cfg.market.to_params(source.instrument)
    levels = np.asarray(cfg.action_levels, dtype=np.float64)
    brackets = source.instrument.bracket_table()
    limit_array = limits.to_array()
    consts = pack_constants(params, env, limit_array, levels, brackets)
    env[:] = consts[C_ENV : C_ENV + N_ENV_PARAMS]

    obs_space: gym.Space[Any]
    if cfg.observation == "box":
        obs_space = gym.spaces.Box(-np.inf, np.inf, shape=(layout.size,), dtype=np.float32)
    else:
        obs_space = gym.spaces.Dict(
            {
                "features": gym.spaces.Box(-np.inf, np.inf, (cfg.window, layout.n_features), np.float32),
                "account": gym.spaces.Box(-np.inf, np.inf, (N_ACCOUNT_FIELDS,), np.float32),
            }
        )
    act_space: gym.Space[Any]
    if cfg.action_type == "discrete":
        act_space = gym.spaces.Discrete(len(cfg.action_levels))
    else:
        act_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
    values = nan_free(feats.values, first_valid)
    return EnvCore(
        config=cfg,
        risk=limits,
        instrument=source.instrument,
        data=market,
        features=feats,
        layout=layout,
        features_flat=values.reshape(-1),
        params=params,
        env_params=env,
        levels=levels,
        brackets=brackets,
        limits=limit_array,
        observation_space=obs_space,
        action_space=act_space,
        consts=consts,
    )
