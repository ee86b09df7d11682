"""What a backtest runs on: the market arrays of one symbol, its instrument, the costs, the risk limits, the
action rule and the span, prepared once into the arrays the kernel reads.

``ActionRule`` is the env's rule for turning an action into a target position (``env.action_type``,
``env.action_levels``, ``env.deadband``, ``env.min_hold_bars``, ``env.order_type``, ``env.limit_offset_bps``;
the position scale is ``risk.max_leverage``, the one leverage), so that a backtest of a policy is its env
rollout. ``BacktestSetup.from_market`` builds everything from the loaded ``MarketData``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import numpy.typing as npt
import pandas as pd

from asterrl.backtest.engine.layout import N_RULE, Rule
from asterrl.backtest.metrics import bars_per_year
from asterrl.config_values import check_int, check_number
from asterrl.data.market import MarketData
from asterrl.errors import ConfigError, DataError
from asterrl.features.kernels.volatility import atr
from asterrl.risk.limits import RiskLimits
from asterrl.risk.stops import stop_array, stops_active
from asterrl.sim.config import MarketModelConfig
from asterrl.sim.instrument import Instrument
from asterrl.sim.layout import Market
from asterrl.sim.market_arrays import DAY_MS, MarketArrays

FloatArray = npt.NDArray[np.float64]
ACTION_TYPES = ("discrete", "continuous")
ORDER_TYPES = ("market", "limit")


@dataclass(frozen=True)
class ActionRule:
    """How an action becomes a target position (the env's rule, ``asterrl.actions.target_position``).

    :param action_type: ``continuous`` (the action is the target, a fraction of the position scale in
        [-1, 1]; signal frames and rule agents) or ``discrete`` (an index into ``levels``).
    :param levels: the discrete target levels, fractions of the position scale.
    :param deadband: a target within this distance (fraction of the scale) of the position is not traded.
    :param min_hold_bars: bars a position is held after a fill before the policy may trade it again.
    :param order_type: ``market``, or ``limit``: a one-bar limit order at the decision close offset by
        ``limit_offset_bps`` in the trader's favour.
    :param limit_offset_bps: offset of limit orders, bps of the decision close.
    """

    action_type: str = "continuous"
    levels: tuple[float, ...] = ()
    deadband: float = 0.0
    min_hold_bars: int = 0
    order_type: str = "market"
    limit_offset_bps: float = 0.0

    def __post_init__(self) -> None:
        if self.action_type not in ACTION_TYPES:
            raise ConfigError(f"action_type={self.action_type!r}; expected one of {', '.join(ACTION_TYPES)}")
        if self.order_type not in ORDER_TYPES:
            raise ConfigError(f"env.order_type={self.order_type!r}; expected one of {', '.join(ORDER_TYPES)}")
        if self.action_type == "discrete" and not self.levels:
            raise ConfigError("env.action_levels: discrete actions need at least one level")
        for n, level in enumerate(self.levels):
            check_number(f"env.action_levels[{n}]", level, -1.0, 1.0, high_closed=True)
        check_number("env.deadband", self.deadband, 0.0, 2.0)
        check_int("env.min_hold_bars", self.min_hold_bars, 0)
        check_number("env.limit_offset_bps", self.limit_offset_bps, 0.0, 10_000.0)

    def to_array(self, position_scale: float, initial_balance: float, stops: bool = False) -> FloatArray:
        """The rule as the float64 array the kernel reads (slots ``Rule``); ``stops``: a stop is on."""
        out = np.zeros(N_RULE, dtype=np.float64)
        out[Rule.DISCRETE] = 1.0 if self.action_type == "discrete" else 0.0
        out[Rule.POSITION_SCALE] = position_scale
        out[Rule.DEADBAND] = self.deadband
        out[Rule.MIN_HOLD] = self.min_hold_bars
        out[Rule.LIMIT_ORDERS] = 1.0 if self.order_type == "limit" else 0.0
        out[Rule.LIMIT_OFFSET] = self.limit_offset_bps * 1e-4
        out[Rule.INITIAL_BALANCE] = initial_balance
        out[Rule.STOPS] = 1.0 if stops else 0.0
        return out


def day_start_ms(day: str, key: str) -> int:
    """Open time (ms UTC) of a day or time given as text (``2022-01-01``, ``2022-01-01T12:00``)."""
    try:
        stamp = pd.Timestamp(day)
    except (ValueError, TypeError):
        raise ConfigError(f"{key}={day!r} is not a date (e.g. 2022-01-01)") from None
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.value // 1_000_000)


def span_bars(
    timestamps: npt.NDArray[np.int64], start: str, end: str, key: str = "backtest"
) -> tuple[int, int]:
    """First decision bar and last bar of ``[start, end]`` (days, UTC; ``end`` is included whole, a time is
    exclusive; empty: the data's first or last bar)."""
    lo = day_start_ms(start, f"{key}.start") if start else int(timestamps[0])
    if not end:
        hi = int(timestamps[-1]) + 1
    else:
        hi = day_start_ms(end, f"{key}.end")
        if len(end) <= 10:  # a date: the whole day
            hi += DAY_MS
    first = int(np.searchsorted(timestamps, lo, side="left"))
    last = int(np.searchsorted(timestamps, hi, side="left")) - 1
    if last - first < 1:
        raise ConfigError(
            f"{key}.start..{key}.end ({start or 'first bar'} .. {end or 'last bar'}) holds fewer than 2 "
            "bars of the loaded data (check data.start and data.end)"
        )
    return first, last


@dataclass(frozen=True)
class BacktestSetup:
    """One symbol's market, rules and span, ready for the kernel.

    :param symbol: the traded symbol.
    :param market: per-bar arrays (the bars may start before ``start_bar``: indicator warm-up).
    :param instrument: the symbol's trading rules.
    :param costs: fees, slippage and the limit-order model.
    :param risk: the risk limits (validated against the instrument); ``max_leverage`` is the position scale.
    :param rule: the action rule.
    :param initial_balance: starting wallet, USDT.
    :param start_bar: first decision bar (its close is seen; the first order fills at the next open).
    :param end_bar: last bar the account reaches.
    """

    symbol: str
    market: MarketArrays
    instrument: Instrument
    costs: MarketModelConfig = field(default_factory=MarketModelConfig)
    risk: RiskLimits = field(default_factory=RiskLimits)
    rule: ActionRule = field(default_factory=ActionRule)
    initial_balance: float = 10_000.0
    start_bar: int = 0
    end_bar: int = -1

    def __post_init__(self) -> None:
        last = self.market.n_bars - 1
        end = last if self.end_bar < 0 else self.end_bar
        if not 0 <= self.start_bar < end <= last:
            raise ConfigError(
                f"backtest span: need 0 <= start bar < end bar <= {last}, got {self.start_bar}, {end}"
            )
        object.__setattr__(self, "end_bar", end)
        check_number("env.initial_balance", self.initial_balance, 0.0, math.inf, low_open=True)
        object.__setattr__(self, "risk", dataclasses.replace(self.risk).validate(self.instrument))
        self.costs.validate()

    @classmethod
    def from_market(
        cls,
        data: MarketData,
        costs: MarketModelConfig | None = None,
        risk: RiskLimits | None = None,
        rule: ActionRule | None = None,
        initial_balance: float = 10_000.0,
        start: str = "",
        end: str = "",
        decision_latency_ms: float = 0.0,
    ) -> BacktestSetup:
        """Prepare the arrays of ``data`` and the span ``[start, end]`` (days, UTC, see ``span_bars``)."""
        costs = costs or MarketModelConfig()
        market = MarketArrays.from_frames(
            data.bars.reset_index(drop=True), data.funding, data.mark, costs.costs,
            decision_latency_ms=decision_latency_ms,
        )  # fmt: skip
        first, last = span_bars(market.timestamps, start, end)
        return cls(data.key.symbol, market, data.instrument, costs, risk or RiskLimits(),
                   rule or ActionRule(), initial_balance, first, last)  # fmt: skip

    @property
    def steps(self) -> int:
        """Decisions in the span (bars stepped)."""
        return self.end_bar - self.start_bar

    @property
    def bars_per_year(self) -> float:
        return bars_per_year(self.market.interval_ms)

    @property
    def position_scale(self) -> float:
        """Leverage a target of 1.0 means: ``risk.max_leverage`` (the one leverage)."""
        return float(self.risk.max_leverage)

    @cached_property
    def params(self) -> FloatArray:
        return self.costs.to_params(self.instrument)

    @cached_property
    def brackets(self) -> FloatArray:
        return self.instrument.bracket_table()

    @cached_property
    def limits(self) -> FloatArray:
        return self.risk.to_array()

    @cached_property
    def stops(self) -> FloatArray:
        return stop_array(self.risk)

    @cached_property
    def rule_array(self) -> FloatArray:
        return self.rule.to_array(self.position_scale, self.initial_balance, stops_active(self.risk))

    @cached_property
    def levels(self) -> FloatArray:
        return np.asarray(self.rule.levels or (0.0,), dtype=np.float64)

    @cached_property
    def atr(self) -> FloatArray:
        """ATR (``risk.stop_atr_period`` bars, USDT) known at each bar's close, for ATR stops."""
        v = self.market.values
        high, low, close = (np.ascontiguousarray(v[:, f]) for f in (Market.HIGH, Market.LOW, Market.CLOSE))
        return np.asarray(atr(high, low, close, self.risk.stop_atr_period), dtype=np.float64)

    @property
    def decision_timestamps(self) -> npt.NDArray[np.int64]:
        """Open time of each decision bar of the span, ms UTC."""
        return self.market.timestamps[self.start_bar : self.end_bar]

    def with_span(self, start_bar: int, end_bar: int, initial_balance: float | None = None) -> BacktestSetup:
        """The same market and rules over other bars (and another starting balance)."""
        balance = self.initial_balance if initial_balance is None else initial_balance
        return dataclasses.replace(self, start_bar=start_bar, end_bar=end_bar, initial_balance=balance)

    def check_targets(self, targets: FloatArray) -> FloatArray:
        """A ``(steps, sets)`` float64 matrix of continuous actions; one error line when its shape or values
        are off."""
        a = np.asarray(targets, dtype=np.float64)
        a = a.reshape(-1, 1) if a.ndim == 1 else a
        if a.ndim != 2 or a.shape[0] != self.steps:
            raise DataError(f"targets must hold one row per decision bar ({self.steps}), got shape {a.shape}")
        if not np.all(np.isfinite(a)) or np.abs(a).max(initial=0.0) > 1.0:
            raise DataError("targets must be finite fractions of the position scale in [-1, 1]")
        return np.ascontiguousarray(a)
