"""The risk gate: one numba function that every target position passes, in the env and in the live bridge.

``gate_target`` takes the current and wanted position (base asset) with the account's state and returns the
position the limits allow plus a bit mask saying what fired. The batched environment calls it inside its
numba step; ``RiskGate`` wraps it for single orders from Python (the live bridge).

Rules, in order:

1. A drawdown or daily-loss breach returns a flat target (flatten) and ``HALT`` (the caller stops trading).
2. A hold (target = current position) passes unchanged: no order, nothing to gate.
3. The target is clipped to ``max_leverage`` (counting the order's own fee and slippage, so leverage *after*
   the fill stays within the limit), then to ``max_position_notional``. A position the market pushed beyond
   them is cut back by any order (``trimmed_position``): after an order, leverage and position notional are
   within the limits.
4. The order is clipped to ``max_order_notional``, but never so far that the position stays beyond the
   trimmed one: that forced part of an order is an exit that must happen.
5. Stale data, an order rate at its limit, or a price outside the band reject the order: the target stays
   the current position (live only; the environments never set these inputs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numba import njit

from asterrl.risk.limits import (
    L_MAX_DAILY_LOSS,
    L_MAX_DATA_AGE_MS,
    L_MAX_DRAWDOWN,
    L_MAX_LEVERAGE,
    L_MAX_ORDER_NOTIONAL,
    L_MAX_ORDERS_PER_MINUTE,
    L_MAX_POSITION_NOTIONAL,
    L_PRICE_BAND,
    RiskLimits,
)

# Bits of the gate's flag mask.
FLAG_LEVERAGE_CLIPPED = 1
FLAG_POSITION_CLIPPED = 2
FLAG_ORDER_CLIPPED = 4
FLAG_DRAWDOWN_BREACH = 8
FLAG_DAILY_LOSS_BREACH = 16
FLAG_ORDER_RATE = 32
FLAG_STALE_DATA = 64
FLAG_PRICE_BAND = 128
#: Either loss breach: flatten and stop.
HALT = FLAG_DRAWDOWN_BREACH | FLAG_DAILY_LOSS_BREACH
#: Any rejection of the order as a whole.
REJECTED = FLAG_ORDER_RATE | FLAG_STALE_DATA | FLAG_PRICE_BAND

FLAG_NAMES: dict[int, str] = {
    FLAG_LEVERAGE_CLIPPED: "leverage_clipped",
    FLAG_POSITION_CLIPPED: "position_clipped",
    FLAG_ORDER_CLIPPED: "order_clipped",
    FLAG_DRAWDOWN_BREACH: "drawdown_breach",
    FLAG_DAILY_LOSS_BREACH: "daily_loss_breach",
    FLAG_ORDER_RATE: "order_rate",
    FLAG_STALE_DATA: "stale_data",
    FLAG_PRICE_BAND: "price_band",
}


@njit(cache=True)
def leverage_capped_qty(
    current_qty: float, target_qty: float, price: float, equity: float, unit_cost: float, max_leverage: float
) -> float:
    """Largest position towards ``target_qty`` whose leverage after the fill is at most ``max_leverage``.

    Leverage after the fill is ``|q_new| * price / (equity - unit_cost * |q_new - current|)``: the trade's
    fee and slippage (``unit_cost`` USDT per unit of base asset) come out of equity. Solving the bound for
    ``|q_new|`` in each case (increase, reduction, flip) gives the cap in closed form. Reductions that still
    leave leverage above the limit are clipped further down; a flat target always passes.
    """
    if target_qty == 0.0 or math.isinf(max_leverage):
        return target_qty
    if equity <= 0.0 or price <= 0.0:
        return 0.0
    magnitude = abs(target_qty)
    held = abs(current_qty)
    lk = max_leverage * unit_cost
    if current_qty * target_qty >= 0.0:
        if price > lk:
            cap_reduce = max_leverage * (equity - unit_cost * held) / (price - lk)
        else:  # a reduction's cost outweighs its notional: any reduction the equity can pay for passes
            cap_reduce = held if equity >= unit_cost * held else 0.0
        if magnitude <= held:
            cap = cap_reduce
        else:
            cap_increase = max_leverage * (equity + unit_cost * held) / (price + lk)
            cap = cap_increase if cap_increase >= held else cap_reduce
    else:
        cap = max_leverage * (equity - unit_cost * held) / (price + lk)
    cap = max(cap, 0.0)
    if magnitude <= cap:
        return target_qty
    return math.copysign(cap, target_qty)


@njit(cache=True)
def loss_limit_flags(
    equity: float, peak_equity: float, day_start_equity: float, limits: npt.NDArray[np.float64]
) -> int:
    """``FLAG_DRAWDOWN_BREACH`` / ``FLAG_DAILY_LOSS_BREACH`` bits for the account's equity (USDT)."""
    flags = 0
    if peak_equity > 0.0 and (peak_equity - equity) >= limits[L_MAX_DRAWDOWN] * peak_equity:
        flags |= FLAG_DRAWDOWN_BREACH
    if day_start_equity > 0.0 and (day_start_equity - equity) >= limits[L_MAX_DAILY_LOSS] * day_start_equity:
        flags |= FLAG_DAILY_LOSS_BREACH
    return flags


@njit(cache=True)
def _position_capped(
    current_qty: float,
    target_qty: float,
    price: float,
    equity: float,
    unit_cost: float,
    limits: npt.NDArray[np.float64],
) -> tuple[float, int]:
    """``target_qty`` cut to the leverage limit, then to the position-notional limit; with the flags fired."""
    flags = 0
    allowed = leverage_capped_qty(current_qty, target_qty, price, equity, unit_cost, limits[L_MAX_LEVERAGE])
    if allowed != target_qty:
        flags |= FLAG_LEVERAGE_CLIPPED
    position_cap = limits[L_MAX_POSITION_NOTIONAL] / price
    if abs(allowed) > position_cap:
        allowed = math.copysign(position_cap, allowed)
        flags |= FLAG_POSITION_CLIPPED
    return allowed, flags


@njit(cache=True)
def trimmed_position(
    current_qty: float, price: float, equity: float, unit_cost: float, limits: npt.NDArray[np.float64]
) -> float:
    """The current position cut back within the leverage and position-notional limits (base asset).

    Equal to ``current_qty`` unless the market pushed the position beyond a limit; the difference is the
    forced part of the next order, which neither the order cap nor the market model's participation cap
    or minimum notional hold back.
    """
    if current_qty == 0.0:
        return 0.0
    return _position_capped(current_qty, current_qty, price, equity, unit_cost, limits)[0]


@njit(cache=True)
def gate_target(
    current_qty: float,
    target_qty: float,
    price: float,
    equity: float,
    unit_cost: float,
    peak_equity: float,
    day_start_equity: float,
    data_age_ms: float,
    orders_last_minute: float,
    price_deviation: float,
    limits: npt.NDArray[np.float64],
) -> tuple[float, int]:
    """Apply every limit to a wanted position; return ``(allowed_target_qty, flags)``.

    :param current_qty: signed position now, base asset.
    :param target_qty: signed position wanted, base asset.
    :param price: reference (mark) price the order is valued at, USDT.
    :param equity: margin balance (wallet + unrealised PnL) at ``price``, USDT.
    :param unit_cost: expected fee plus slippage per unit traded, USDT per base unit.
    :param peak_equity: highest equity seen (drawdown reference), USDT.
    :param day_start_equity: equity at the start of the UTC day, USDT.
    :param data_age_ms: age of the newest market data, ms.
    :param orders_last_minute: orders sent in the trailing 60 s.
    :param price_deviation: relative distance of the order's price from the mark (0 for market orders).
    :param limits: ``RiskLimits.to_array()``.
    """
    flags = loss_limit_flags(equity, peak_equity, day_start_equity, limits)
    if flags != 0:
        return 0.0, flags
    if target_qty == current_qty:
        return target_qty, 0
    allowed, flags = _position_capped(current_qty, target_qty, price, equity, unit_cost, limits)
    order_cap = limits[L_MAX_ORDER_NOTIONAL] / price
    if abs(allowed - current_qty) > order_cap:
        clipped = current_qty + math.copysign(order_cap, allowed - current_qty)
        keep = trimmed_position(current_qty, price, equity, unit_cost, limits)
        if abs(keep) < abs(current_qty) and clipped * current_qty > 0.0 and abs(clipped) > abs(keep):
            clipped = keep  # the order cap never keeps a position beyond the limits
        allowed = clipped
        flags |= FLAG_ORDER_CLIPPED
    if data_age_ms > limits[L_MAX_DATA_AGE_MS]:
        return current_qty, flags | FLAG_STALE_DATA
    if orders_last_minute >= limits[L_MAX_ORDERS_PER_MINUTE]:
        return current_qty, flags | FLAG_ORDER_RATE
    if price_deviation > limits[L_PRICE_BAND]:
        return current_qty, flags | FLAG_PRICE_BAND
    return allowed, flags


@dataclass(frozen=True, slots=True)
class GateDecision:
    """What the gate allows for one order.

    :param target_qty: allowed signed position after the order, base asset.
    :param flags: bit mask of ``FLAG_*``.
    """

    target_qty: float
    flags: int

    @property
    def halt(self) -> bool:
        """A loss limit was breached: flatten and stop trading."""
        return bool(self.flags & HALT)

    @property
    def rejected(self) -> bool:
        """The order was refused as a whole (rate, stale data or price band)."""
        return bool(self.flags & REJECTED)

    def reasons(self) -> list[str]:
        """Names of the flags that fired, e.g. ``["leverage_clipped"]``."""
        return [name for bit, name in FLAG_NAMES.items() if self.flags & bit]


class RiskGate:
    """Typed Python entry to ``gate_target`` for single orders (the live bridge uses it unchanged)."""

    def __init__(self, limits: RiskLimits) -> None:
        self.limits = limits.validate()
        self._array = limits.to_array()

    def check(
        self,
        *,
        current_qty: float,
        target_qty: float,
        price: float,
        equity: float,
        peak_equity: float,
        day_start_equity: float,
        unit_cost: float = 0.0,
        data_age_ms: float = 0.0,
        orders_last_minute: float = 0,
        price_deviation: float = 0.0,
    ) -> GateDecision:
        """Gate one wanted position; quantities in base asset, money in USDT (see ``gate_target``)."""
        allowed, flags = gate_target(
            float(current_qty),
            float(target_qty),
            float(price),
            float(equity),
            float(unit_cost),
            float(peak_equity),
            float(day_start_equity),
            float(data_age_ms),
            float(orders_last_minute),
            float(price_deviation),
            self._array,
        )
        return GateDecision(float(allowed), int(flags))
