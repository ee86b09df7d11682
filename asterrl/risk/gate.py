"""The risk gate: one numba function that every wanted position passes, in the env and in the live bridge.

``gate_target`` takes the current and wanted position (base asset) with the account's state and returns the
position the limits allow, the position the account must at least come back to (``keep``), and a bit mask
saying what fired. ``asterrl.risk.order_decision.decide_order`` wraps it with the exchange's filters into
one order decision; the env's numba step and the live bridge's ``RiskGate.decide`` both call that.

Rules, in order:

1. Bad input: a non-finite wanted position is refused (``FLAG_BAD_INPUT``: treated as a hold, so the rules
   below still guard the account). A non-finite or out-of-range state -- position, price <= 0, equity,
   a peak or day-start equity <= 0, a negative data age, order count, unit cost or price deviation -- is
   refused whole: no order at all (``FLAG_BAD_STATE``). Live, either halts with the reason logged.
2. A drawdown or daily-loss breach returns a flat target (flatten, reduce-only at market) and ``HALT``.
3. ``keep``: the current position cut back within ``max_leverage`` (counting the exit's own costs) and
   ``max_position_notional``; equal to the position unless the market pushed it beyond them.
4. A hold (target = current position) sends no order, unless the position drifted beyond a limit by more
   than ``drift_tolerance``: then the target is ``keep`` (a reduce-only trim, ``FLAG_DRIFT_TRIM``).
5. Any other target is clipped to ``max_leverage`` (so leverage *after* the fill, net of its fee and
   slippage, is within it), then to ``max_position_notional``, then the order to ``max_order_notional`` --
   never so far that the position stays beyond ``keep``: that forced part of an order must happen.
6. Stale data (an order that adds risk only), the order-rate limit or a price outside the band reject the
   order: the target falls back to ``keep`` (the forced part alone still goes).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

from asterrl.risk.limits import Limit

# Bits of the gate's flag mask.
FLAG_LEVERAGE_CLIPPED = 1
FLAG_POSITION_CLIPPED = 2
FLAG_ORDER_CLIPPED = 4
FLAG_DRAWDOWN_BREACH = 8
FLAG_DAILY_LOSS_BREACH = 16
FLAG_ORDER_RATE = 32
FLAG_STALE_DATA = 64
FLAG_PRICE_BAND = 128
FLAG_BAD_INPUT = 256
FLAG_DRIFT_TRIM = 512
FLAG_BAD_STATE = 1024
#: Either loss breach: flatten and stop.
HALT = FLAG_DRAWDOWN_BREACH | FLAG_DAILY_LOSS_BREACH
#: Any rejection of the order as a whole (its forced part excepted).
REJECTED = FLAG_ORDER_RATE | FLAG_STALE_DATA | FLAG_PRICE_BAND | FLAG_BAD_INPUT | FLAG_BAD_STATE

FLAG_NAMES: dict[int, str] = {
    FLAG_LEVERAGE_CLIPPED: "leverage_clipped",
    FLAG_POSITION_CLIPPED: "position_clipped",
    FLAG_ORDER_CLIPPED: "order_clipped",
    FLAG_DRAWDOWN_BREACH: "drawdown_breach",
    FLAG_DAILY_LOSS_BREACH: "daily_loss_breach",
    FLAG_ORDER_RATE: "order_rate",
    FLAG_STALE_DATA: "stale_data",
    FLAG_PRICE_BAND: "price_band",
    FLAG_BAD_INPUT: "bad_input",
    FLAG_DRIFT_TRIM: "drift_trim",
    FLAG_BAD_STATE: "bad_state",
}


def flag_names(flags: int) -> list[str]:
    """Names of the bits set in ``flags``, e.g. ``["leverage_clipped"]``."""
    return [name for bit, name in FLAG_NAMES.items() if flags & bit]


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
    """``FLAG_DRAWDOWN_BREACH`` / ``FLAG_DAILY_LOSS_BREACH`` bits for the account's equity (USDT).

    A non-finite equity or reference counts as a breach of the limit it feeds (never as "no breach").
    """
    flags = 0
    if not (peak_equity > 0.0 and (peak_equity - equity) < limits[Limit.MAX_DRAWDOWN] * peak_equity):
        flags |= FLAG_DRAWDOWN_BREACH
    day = day_start_equity
    if not (day > 0.0 and (day - equity) < limits[Limit.MAX_DAILY_LOSS] * day):
        flags |= FLAG_DAILY_LOSS_BREACH
    return flags


@njit(cache=True)
def loss_stop_equity(peak_equity: float, day_start_equity: float, limits: npt.NDArray[np.float64]) -> float:
    """Equity (USDT) at which the first loss limit is reached: the higher of the two thresholds."""
    drawdown = peak_equity * (1.0 - limits[Limit.MAX_DRAWDOWN])
    daily = day_start_equity * (1.0 - limits[Limit.MAX_DAILY_LOSS])
    return max(drawdown, daily)


@njit(cache=True)
def loss_stop_flag(peak_equity: float, day_start_equity: float, limits: npt.NDArray[np.float64]) -> int:
    """The breach flag of the loss limit whose threshold ``loss_stop_equity`` gives (the stop's reason,
    even when the stop fills better than its trigger and leaves equity just above that threshold)."""
    drawdown = peak_equity * (1.0 - limits[Limit.MAX_DRAWDOWN])
    daily = day_start_equity * (1.0 - limits[Limit.MAX_DAILY_LOSS])
    return FLAG_DRAWDOWN_BREACH if drawdown >= daily else FLAG_DAILY_LOSS_BREACH


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
    allowed = leverage_capped_qty(
        current_qty, target_qty, price, equity, unit_cost, limits[Limit.MAX_LEVERAGE]
    )
    if allowed != target_qty:
        flags |= FLAG_LEVERAGE_CLIPPED
    position_cap = limits[Limit.MAX_POSITION_NOTIONAL] / price
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
def drifted_beyond_tolerance(
    current_qty: float, price: float, equity: float, limits: npt.NDArray[np.float64]
) -> bool:
    """Whether a held position's leverage or notional exceeds its limit by more than the tolerance."""
    if current_qty == 0.0:
        return False
    notional = abs(current_qty) * price
    slack = 1.0 + limits[Limit.DRIFT_TOLERANCE]
    if notional > limits[Limit.MAX_POSITION_NOTIONAL] * slack:
        return True
    return equity <= 0.0 or notional > limits[Limit.MAX_LEVERAGE] * slack * equity


@njit(cache=True)
def _bad_state(
    current_qty: float,
    price: float,
    equity: float,
    unit_cost: float,
    peak_equity: float,
    day_start_equity: float,
    data_age_ms: float,
    orders_last_minute: float,
    price_deviation: float,
) -> bool:
    total = (
        current_qty + price + equity + unit_cost + peak_equity + day_start_equity + data_age_ms
        + orders_last_minute + price_deviation
    )  # fmt: skip
    if not math.isfinite(total):  # NaN or inf anywhere (a sum of finite numbers this size stays finite)
        return True
    if not (price > 0.0 and peak_equity > 0.0 and day_start_equity > 0.0):
        return True
    return data_age_ms < 0.0 or orders_last_minute < 0.0 or unit_cost < 0.0 or price_deviation < 0.0


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
) -> tuple[float, float, int]:
    """Apply every limit to a wanted position; return ``(allowed_target_qty, keep_qty, flags)``.

    :param current_qty: signed position now, base asset.
    :param target_qty: signed position wanted, base asset.
    :param price: reference (mark) price the order is valued at, USDT.
    :param equity: margin balance (wallet + unrealised PnL) at ``price``, USDT.
    :param unit_cost: expected fee plus slippage per unit traded, USDT per base unit.
    :param peak_equity: highest equity seen (drawdown reference), USDT.
    :param day_start_equity: equity at the start of the UTC day, USDT.
    :param data_age_ms: age of the newest market data, ms.
    :param orders_last_minute: orders sent in the trailing 60 s before this one.
    :param price_deviation: relative distance of the order's expected price from the mark.
    :param limits: ``RiskLimits.to_array()``.
    :returns: the allowed target; ``keep``, the position the account must come back to at least (the
        difference to the current position is forced: it goes reduce-only at market whatever else
        happens); and the flags. After ``FLAG_BAD_STATE`` both are ``current_qty``: send nothing.
    """
    if _bad_state(current_qty, price, equity, unit_cost, peak_equity, day_start_equity, data_age_ms,
                  orders_last_minute, price_deviation):  # fmt: skip
        return current_qty, current_qty, FLAG_BAD_STATE
    bad = 0
    if not math.isfinite(target_qty):  # no position at all: refused, and the account still guarded
        target_qty, bad = current_qty, FLAG_BAD_INPUT
    flags = loss_limit_flags(equity, peak_equity, day_start_equity, limits)
    if flags != 0:
        return 0.0, 0.0, flags | bad
    keep = trimmed_position(current_qty, price, equity, unit_cost, limits)
    if target_qty == current_qty:
        if drifted_beyond_tolerance(current_qty, price, equity, limits):
            return keep, keep, FLAG_DRIFT_TRIM | bad
        return current_qty, current_qty, bad
    allowed, flags = _position_capped(current_qty, target_qty, price, equity, unit_cost, limits)
    order_cap = limits[Limit.MAX_ORDER_NOTIONAL] / price
    if abs(allowed - current_qty) > order_cap:
        clipped = current_qty + math.copysign(order_cap, allowed - current_qty)
        if abs(keep) < abs(current_qty) and clipped * current_qty > 0.0 and abs(clipped) > abs(keep):
            clipped = keep  # the order cap never keeps a position beyond the limits
        allowed = clipped
        flags |= FLAG_ORDER_CLIPPED
    reducing = allowed * current_qty >= 0.0 and abs(allowed) < abs(current_qty)
    if data_age_ms > limits[Limit.MAX_DATA_AGE_MS] and not reducing:  # stale data never blocks a reduction
        return keep, keep, flags | FLAG_STALE_DATA
    if orders_last_minute + 1.0 > limits[Limit.MAX_ORDERS_PER_MINUTE]:
        return keep, keep, flags | FLAG_ORDER_RATE
    if price_deviation > limits[Limit.PRICE_BAND]:
        return keep, keep, flags | FLAG_PRICE_BAND
    return allowed, keep, flags
