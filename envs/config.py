"""``EnvConfig``: the Hydra structured config of ``AsterPerpEnv`` (``conf/env/default.yaml``).

What the env trades and on which bars is not here: the data section (``data.symbol``, ``data.interval``,
``data.files``, the store) is the one source of truth, and ``data.symbol`` alone selects the
``Instrument``. The env config holds how the account trades and is rewarded.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import pandas as pd

from asterrl.config_values import check_bool, check_int, check_number
from asterrl.data.config import DataConfig
from asterrl.errors import ConfigError
from asterrl.sim.config import MarketModelConfig

REWARDS = ("log_return", "differential_sharpe")
ACTION_TYPES = ("discrete", "continuous")
OBSERVATION_KINDS = ("box", "dict")
ORDER_TYPES = ("market", "limit")
AUTORESET_MODES = ("next_step", "same_step")


#: Split names in time order, as used by ``split_fractions``.
SPLIT_NAMES = ("train", "validation", "test")


@dataclass
class EnvConfig:
    """Settings of the trading environment.

    :param initial_balance: starting wallet, USDT.
    :param window: bars of features in each observation.
    :param observation: ``box`` (one flat float32 vector) or ``dict`` (``features`` and ``account``).
    :param action_type: ``discrete`` (index into ``action_levels``) or ``continuous`` (a value in [-1, 1]).
    :param action_levels: target positions as fractions of the position scale, for discrete actions.
    :param deadband: a target within this distance (in fractions of the scale) of the current position
        is not traded.
    :param min_hold_bars: bars a position is held after a fill before the agent may trade again (the risk
        gate may still trim it).
    :param order_type: ``market``, or ``limit`` one-bar limit orders at the decision close offset by
        ``limit_offset_bps`` in the trader's favour.
    :param limit_offset_bps: offset of limit orders from the decision close, bps.
    :param reward: ``log_return`` (log equity change) or ``differential_sharpe`` (Moody-Saffell).
    :param dsr_eta: adaptation rate of the differential Sharpe ratio's moving moments.
    :param drawdown_penalty: reward minus this times the current drawdown (fraction of peak).
    :param turnover_penalty: reward minus this times traded notional over equity.
    :param reward_scale: multiplier of the final reward.
    :param episode_length: steps per episode; 0 runs to the end of the split.
    :param random_start: draw each episode's start uniformly within the split (else start at its beginning).
    :param split: which of ``splits`` episodes come from.
    :param splits: inclusive UTC date ranges ``[first_day, last_day]`` per split name; empty (the default)
        splits the loaded bars by ``split_fractions`` instead, so one config fits any data span.
    :param split_fractions: shares of the bars for train, validation and test, in time order (used when
        ``splits`` is empty).
    :param autoreset_mode: vector env autoreset, ``next_step`` (Gymnasium's default, RLlib) or
        ``same_step`` (final observation in ``info["final_obs"]``).
    :param decision_latency_ms: time from a bar's close to the order leaving, ms: the data age the risk gate
        sees at the next open (plus any gap in the bars before it), checked against ``risk.max_data_age_ms``.
    :param market: the market model (fees, slippage, the limit-order model).
    """

    initial_balance: float = 10_000.0
    window: int = 32
    observation: str = "box"
    action_type: str = "discrete"
    action_levels: list[float] = field(default_factory=lambda: [-1.0, -0.5, 0.0, 0.5, 1.0])
    deadband: float = 0.05
    min_hold_bars: int = 0
    order_type: str = "market"
    limit_offset_bps: float = 0.0
    reward: str = "log_return"
    dsr_eta: float = 0.01
    drawdown_penalty: float = 0.0
    turnover_penalty: float = 0.0
    reward_scale: float = 1.0
    episode_length: int = 720
    random_start: bool = True
    split: str = "train"
    splits: dict[str, list[str]] = field(default_factory=dict)
    split_fractions: list[float] = field(default_factory=lambda: [0.7, 0.15, 0.15])
    autoreset_mode: str = "next_step"
    decision_latency_ms: float = 1_000.0
    market: MarketModelConfig = field(default_factory=MarketModelConfig)

    def validate(self) -> EnvConfig:
        """Raise a one-line ``ConfigError`` naming the ``env.*`` key of a bad value; return ``self``."""
        choices = {
            "reward": (self.reward, REWARDS),
            "action_type": (self.action_type, ACTION_TYPES),
            "observation": (self.observation, OBSERVATION_KINDS),
            "order_type": (self.order_type, ORDER_TYPES),
            "autoreset_mode": (self.autoreset_mode, AUTORESET_MODES),
        }
        for name, (value, allowed) in choices.items():
            if value not in allowed:
                raise ConfigError(f"env.{name}={value!r}; expected one of {', '.join(allowed)}")
        check_number("env.initial_balance", self.initial_balance, 0.0, math.inf, low_open=True)
        check_int("env.window", self.window, 1)
        check_int("env.episode_length", self.episode_length, 0)
        check_int("env.min_hold_bars", self.min_hold_bars, 0)
        if not self.action_levels:
            raise ConfigError("env.action_levels must be a non-empty list of values in [-1, 1]")
        for n, level in enumerate(self.action_levels):
            check_number(f"env.action_levels[{n}]", level, -1.0, 1.0, high_closed=True)
        check_number("env.deadband", self.deadband, 0.0, 2.0)
        check_number("env.dsr_eta", self.dsr_eta, 0.0, 1.0, low_open=True)
        check_number("env.limit_offset_bps", self.limit_offset_bps, 0.0, 10_000.0)
        check_number("env.drawdown_penalty", self.drawdown_penalty, 0.0, math.inf)
        check_number("env.turnover_penalty", self.turnover_penalty, 0.0, math.inf)
        check_number("env.reward_scale", self.reward_scale, 0.0, math.inf, low_open=True)
        check_number("env.decision_latency_ms", self.decision_latency_ms, 0.0, math.inf)
        check_bool("env.random_start", self.random_start)
        names = sorted(self.splits) if self.splits else list(SPLIT_NAMES)
        if self.split not in names:
            raise ConfigError(f"env.split={self.split!r} is not one of the splits {', '.join(names)}")
        fractions = self.split_fractions
        if len(fractions) != 3 or min(fractions) <= 0.0 or abs(sum(fractions) - 1.0) > 1e-9:
            raise ConfigError(
                "env.split_fractions must be three positive shares (train, validation, test) summing to 1"
            )
        self._validate_date_splits()
        self.market.validate()
        return self

    def _validate_date_splits(self) -> None:
        """Each ``env.splits`` range is two parseable days in order; ranges do not overlap."""
        spans = []
        for name, bounds in self.splits.items():
            if len(bounds) != 2:
                raise ConfigError(f"env.splits.{name} must be [first_day, last_day]")
            try:
                first, last = (pd.Timestamp(day, tz="UTC") for day in bounds)
            except (ValueError, TypeError):
                raise ConfigError(
                    f"env.splits.{name}={list(bounds)!r} holds a day that is not an ISO date"
                ) from None
            if last < first:
                raise ConfigError(f"env.splits.{name} ends ({bounds[1]}) before it starts ({bounds[0]})")
            spans.append((first, last, name))
        spans.sort()
        for (_, end, name), (start, _, other) in itertools.pairwise(spans):
            if start <= end:
                raise ConfigError(f"env.splits.{name} and env.splits.{other} overlap")


def check_splits_inside_span(env: EnvConfig, data: DataConfig) -> None:
    """Each date split of ``env.splits`` holds part of ``[data.start, data.end)``, or one ``ConfigError``."""
    start, end = data.span_ms()
    for name, (first, last) in env.splits.items():
        lo = pd.Timestamp(first, tz="UTC").value // 1_000_000
        hi = pd.Timestamp(last, tz="UTC").value // 1_000_000 + 86_400_000
        if hi <= start or lo >= end:
            raise ConfigError(
                f"env.splits.{name} ({first}..{last}) holds no bars of data.start..data.end "
                f"({data.start}..{data.end or 'now'})"
            )
