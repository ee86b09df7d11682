"""``RiskLimits``: the hard limits every order passes, in the environment and in the live bridge alike.

One leverage: ``max_leverage`` is both the largest position notional over equity the gate lets an order
reach (after the order's own fee and slippage) and the account's margin leverage setting on the exchange
(initial margin = notional / ``max_leverage``). It may not exceed the instrument's maximum (its first margin
tier's ``initialLeverage``); at larger notionals the tier's own lower maximum caps the position further.

A limit set to ``.inf`` is off (except ``max_leverage``, which is always finite). The numba gate reads the
limits as a float64 array built by ``RiskLimits.to_array``; ``Limit`` names its slots.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from enum import auto
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from asterrl.config_values import check_int, check_number
from asterrl.errors import ConfigError
from asterrl.sim.layout import Slots

if TYPE_CHECKING:
    from asterrl.sim.instrument import Instrument


class Limit(Slots):
    """Slots of the float64 limits array read by the numba gate (``RiskLimits`` field order)."""

    MAX_LEVERAGE = auto()
    MAX_POSITION_NOTIONAL = auto()
    MAX_ORDER_NOTIONAL = auto()
    MAX_DRAWDOWN = auto()
    MAX_DAILY_LOSS = auto()
    MAX_ORDERS_PER_MINUTE = auto()
    MAX_DATA_AGE_MS = auto()
    PRICE_BAND = auto()
    DRIFT_TOLERANCE = auto()


N_LIMITS = len(Limit)


@dataclass
class RiskLimits:
    """Hard risk limits (a Hydra structured config; ``conf/risk/default.yaml``).

    :param max_leverage: largest position notional over equity after an order, counting the order's own
        fee and slippage; a larger target is clipped to it. Also the account's margin leverage (one
        leverage: see the module docstring). Finite, in (0, instrument maximum].
    :param max_position_notional: largest absolute position notional, USDT; a larger target is clipped.
    :param max_order_notional: largest notional of one order, USDT; a larger order is clipped (a forced
        exit larger than it goes out as several orders, each within it). At least the instrument's
        minimum notional, or no order could ever open a position.
    :param max_drawdown: fraction of the peak equity whose loss flattens and halts (0.5 = 50 %); enforced
        inside the bar by a protective stop at the price where it is reached.
    :param max_daily_loss: fraction of the equity at the start of the UTC day whose loss flattens and halts
        (also by the in-bar stop).
    :param max_orders_per_minute: orders allowed in any trailing 60 s (a whole number >= 1); an order that
        would exceed it is rejected. Forced exits (trims, halts, stops) are never held back by it.
    :param max_data_age_ms: age of the newest market data beyond which orders that add risk are rejected,
        ms. An order that only reduces the position always passes.
    :param price_band: largest relative distance of an order's price from the mark price (0.02 = 2 %);
        an order priced further away is rejected (forced exits excepted).
    :param drift_tolerance: how far (fraction of the limit) the market may push a held position's leverage
        or notional beyond ``max_leverage`` / ``max_position_notional`` before a reduce-only trim brings it
        back on the next bar, whatever the agent's hold rule (0.05 = trim beyond 105 % of the limit).
    :param stop_loss: close a position once the decision close is this fraction of the average entry price
        against it (0.02 = 2 %); ``.inf`` is off. This and the stops below are ``asterrl.risk.stops``:
        checked on each decision close, the exit goes out at the next open through the gate.
    :param stop_atr: close a position once the close is this many ATRs (``stop_atr_period`` bars, known at
        the entry decision) against the entry; ``.inf`` is off.
    :param stop_atr_period: bars of the ATR behind ``stop_atr``.
    :param trailing_stop: close a position once the close falls this fraction below the best close since
        entry (rises above it for a short); ``.inf`` is off.
    :param take_profit: close a position once the close is this fraction of the entry price in its favour.
    :param time_stop_bars: close a position held this many bars (a whole number, or ``.inf``: off).
    """

    max_leverage: float = 3.0
    max_position_notional: float = math.inf
    max_order_notional: float = math.inf
    max_drawdown: float = 0.5
    max_daily_loss: float = 0.2
    max_orders_per_minute: float = 60.0
    max_data_age_ms: float = 120_000.0
    price_band: float = 0.05
    drift_tolerance: float = 0.05
    stop_loss: float = math.inf
    stop_atr: float = math.inf
    stop_atr_period: int = 14
    trailing_stop: float = math.inf
    take_profit: float = math.inf
    time_stop_bars: float = math.inf

    def validate(self, instrument: Instrument | None = None) -> RiskLimits:
        """Raise a one-line ``ConfigError`` naming the ``risk.*`` key of a bad value; return self.

        :param instrument: when given, also check ``max_leverage`` against its maximum and
            ``max_order_notional`` against its minimum notional.
        """
        check_number("risk.max_leverage", self.max_leverage, 0.0, 125.0, low_open=True, high_closed=True)
        for name in ("max_position_notional", "max_order_notional", "max_data_age_ms", "price_band"):
            check_number(f"risk.{name}", getattr(self, name), 0.0, math.inf, low_open=True, high_closed=True)
        for name in ("max_drawdown", "max_daily_loss"):
            value = getattr(self, name)
            if not (isinstance(value, float) and math.isinf(value) and value > 0):
                check_number(f"risk.{name}", value, 0.0, 1.0, low_open=True, high_closed=True)
        rate = check_number(
            "risk.max_orders_per_minute", self.max_orders_per_minute, 1.0, math.inf, high_closed=True
        )
        if math.isfinite(rate) and not rate.is_integer():
            raise ConfigError(
                f"risk.max_orders_per_minute={rate!r} must be a whole number of orders (or .inf)"
            )
        check_number("risk.drift_tolerance", self.drift_tolerance, 0.0, 1.0)
        for name in ("stop_loss", "stop_atr", "trailing_stop", "take_profit", "time_stop_bars"):
            check_number(f"risk.{name}", getattr(self, name), 0.0, math.inf, low_open=True, high_closed=True)
        if math.isfinite(self.time_stop_bars) and not float(self.time_stop_bars).is_integer():
            raise ConfigError(f"risk.time_stop_bars={self.time_stop_bars!r} must be a whole number of bars")
        check_int("risk.stop_atr_period", self.stop_atr_period, 1)
        if instrument is not None:
            if self.max_leverage > instrument.max_leverage:
                raise ConfigError(
                    f"risk.max_leverage={self.max_leverage:g} exceeds {instrument.symbol}'s maximum leverage "
                    f"{instrument.max_leverage:g} (its first margin tier)"
                )
            if self.max_order_notional < instrument.min_notional:
                raise ConfigError(
                    f"risk.max_order_notional={self.max_order_notional:g} USDT is below "
                    f"{instrument.symbol}'s minimum order notional {instrument.min_notional:g} USDT: "
                    "no order could open a position"
                )
        return self

    def to_array(self) -> npt.NDArray[np.float64]:
        """The limits as the float64 array the numba gate reads (slots ``Limit``)."""
        return np.array([float(getattr(self, m.name.lower())) for m in Limit], dtype=np.float64)

    def to_manifest(self) -> dict[str, Any]:
        """JSON-safe dict for the frozen-policy manifest (infinities written as ``None``)."""
        return {key: (None if math.isinf(value) else value) for key, value in asdict(self).items()}


#: The Hydra structured-config name of the same type (one type, one set of rules).
RiskLimitsConfig = RiskLimits
