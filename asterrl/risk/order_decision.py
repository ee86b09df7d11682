"""One order decision: the risk gate plus the exchange's rules, shared by the env's step and the live bridge.

``decide_order`` (numba) turns a wanted position into the order to send: ``gate_target`` applies the risk
limits, then the instrument's margin tiers and maximum notional cap the position, the order is rounded to
the lot step (never past a cap: a voluntary order rounds its size down, a forced exit rounds up so the
position does land within the limits), the per-order notional cap and the lot's maximum quantity split a
forced exit into several orders, and the minimum notional and quantity reject what the exchange would.
``RiskGate.decide`` is the typed Python entry to the same function for one order (the live bridge).

A forced exit (a risk trim, a halt's flatten) is reduce-only at market whatever the agent's order type;
an order that only shrinks the position is sent reduce-only too (``reduce_only_exits``), so the exchange
exempts it from the minimum notional. A flip is one plain order and must meet the minimum notional whole.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numba import njit

from asterrl.risk.gate import (
    FLAG_BAD_INPUT,
    FLAG_BAD_STATE,
    FLAG_ORDER_CLIPPED,
    FLAG_ORDER_RATE,
    HALT,
    REJECTED,
    flag_names,
    gate_target,
    leverage_capped_qty,
)
from asterrl.risk.limits import Limit, RiskLimits
from asterrl.sim.config import MarketModelConfig
from asterrl.sim.instrument import Instrument
from asterrl.sim.kernels import bracket_max_leverage, round_qty_toward_zero, round_size_up
from asterrl.sim.layout import Param

log = logging.getLogger(__name__)


@njit(cache=True)
def _exchange_capped(
    current_qty: float,
    wanted: float,
    price: float,
    equity: float,
    unit_cost: float,
    params: npt.NDArray[np.float64],
    brackets: npt.NDArray[np.float64],
) -> float:
    """``wanted`` cut to the margin tier's maximum leverage at its notional and to the maximum notional."""
    tier_leverage = bracket_max_leverage(abs(wanted) * price, brackets)
    out = leverage_capped_qty(current_qty, wanted, price, equity, unit_cost, tier_leverage)
    cap = params[Param.MAX_NOTIONAL] / price
    return math.copysign(cap, out) if abs(out) > cap else out


@njit(cache=True)
def order_size_limit(price: float, step: float, lot_max: float, limits: npt.NDArray[np.float64]) -> float:
    """Largest quantity one order may carry at ``price``: within ``max_order_notional`` and the lot's
    maximum, on the ``step`` grid; one step when not even that fits (a forced exit still goes out)."""
    cap = round_qty_toward_zero(limits[Limit.MAX_ORDER_NOTIONAL] / price, step)
    child = min(cap, round_qty_toward_zero(lot_max, step))
    return child if child > 0.0 else step


@njit(cache=True)
def forced_exit_orders(
    size: float, price: float, params: npt.NDArray[np.float64], limits: npt.NDArray[np.float64]
) -> int:
    """How many reduce-only market orders carry a forced exit of ``size`` filled near ``price``."""
    child = order_size_limit(price, params[Param.MARKET_STEP], params[Param.MARKET_MAX_QTY], limits)
    return max(1, math.ceil(size / child - 1e-9))


@njit(cache=True)
def decide_order(
    current_qty: float,
    target_qty: float,
    mark_price: float,
    equity: float,
    unit_cost: float,
    peak_equity: float,
    day_start_equity: float,
    data_age_ms: float,
    orders_last_minute: float,
    price_deviation: float,
    limit_price: float,
    cap_price: float,
    params: npt.NDArray[np.float64],
    brackets: npt.NDArray[np.float64],
    limits: npt.NDArray[np.float64],
) -> tuple[float, float, int, int, bool]:
    """The order towards ``target_qty``: ``(order_qty, forced, n_orders, flags, rejected)``.

    :param mark_price: mark price now, USDT (the gate's valuation; market orders' minimum notional).
    :param limit_price: the order's limit price, USDT; <= 0 for a market order.
    :param cap_price: price the per-order notional cap values the order at: at least any price it may fill
        at (the worst modelled fill of a market order, the limit price of a limit order), USDT.
    :param params: ``MarketModelConfig.to_params(instrument)``; ``brackets``: ``Instrument.bracket_table()``.
    Other parameters as in ``gate_target``.
    :returns: the signed order quantity (base asset, 0 = send nothing); its forced part (unsigned, to be
        sent reduce-only at market, never held back); how many orders carry it (each within the order cap
        and the lot's maximum quantity); the gate's flags; whether a voluntary order was rejected.
    """
    allowed, keep, flags = gate_target(current_qty, target_qty, mark_price, equity, unit_cost, peak_equity,
                                       day_start_equity, data_age_ms, orders_last_minute, price_deviation,
                                       limits)  # fmt: skip
    rejected = (flags & REJECTED) != 0
    if flags & FLAG_BAD_STATE:
        return 0.0, 0.0, 0, flags, True
    is_market = not limit_price > 0.0
    step = params[Param.MARKET_STEP] if is_market else params[Param.STEP]
    market_step = params[Param.MARKET_STEP]
    # The exchange's tier leverage and maximum notional bound what an order may reach (a held position
    # beyond them is left alone, as the exchange leaves it).
    if allowed != current_qty:
        allowed = _exchange_capped(current_qty, allowed, mark_price, equity, unit_cost, params, brackets)
    if keep != current_qty:
        keep = _exchange_capped(current_qty, keep, mark_price, equity, unit_cost, params, brackets)
    held = abs(current_qty)
    forced = 0.0
    if keep * current_qty >= 0.0 and abs(keep) < held:
        forced = min(round_size_up(held - abs(keep), market_step), held)
        if forced < params[Param.MIN_QTY]:  # the exchange's smallest order, or the whole (dust) position
            forced = min(round_size_up(params[Param.MIN_QTY], market_step), held)
    order = allowed - current_qty
    if order == 0.0 and forced == 0.0:
        return 0.0, 0.0, 0, flags, rejected
    side = math.copysign(1.0, order) if order != 0.0 else -math.copysign(1.0, current_qty)
    reducing = side * current_qty < 0.0
    size = round_qty_toward_zero(abs(order), step)  # a voluntary order never grows in rounding
    voluntary = max(size - forced, 0.0) if reducing else size
    cap = round_qty_toward_zero(limits[Limit.MAX_ORDER_NOTIONAL] / cap_price, step)  # one order's risk cap
    if voluntary > cap:
        voluntary = cap
        flags |= FLAG_ORDER_CLIPPED
    lot_max = params[Param.MARKET_MAX_QTY] if is_market else params[Param.MAX_QTY]
    child = order_size_limit(cap_price, step, lot_max, limits)  # each order: within the cap and the lot
    if cap <= 0.0:  # not one lot fits the cap: nothing voluntary can go, a forced exit goes lot by lot
        voluntary = 0.0
    room = limits[Limit.MAX_ORDERS_PER_MINUTE] - orders_last_minute  # orders the rate limit still allows
    if voluntary > 0.0 and (forced + voluntary) > room * child:
        voluntary = max(round_qty_toward_zero(room * child - forced, step), 0.0)
        flags |= FLAG_ORDER_RATE
    size = forced + voluntary if reducing else voluntary
    if voluntary > 0.0:
        new_qty = current_qty + side * size
        reduce_only = reducing and new_qty * current_qty >= 0.0 and params[Param.REDUCE_ONLY_EXITS] > 0.0
        value_price = mark_price if is_market else limit_price
        small = size < params[Param.MIN_QTY] and not (reduce_only and size == held)
        if small or (not reduce_only and size * value_price < params[Param.MIN_NOTIONAL]):
            size, voluntary, rejected = forced, 0.0, True
    if size <= 0.0:
        return 0.0, 0.0, 0, flags, rejected
    n_orders = max(1, math.ceil(size / child - 1e-9))
    return side * size, forced, n_orders, flags, rejected


@dataclass(frozen=True, slots=True)
class OrderDecision:
    """What the gate lets one order do.

    :param order_qty: signed quantity to send, base asset (0: send nothing).
    :param forced_qty: the unsigned part of it that must go reduce-only at market (a trim or a flatten).
    :param n_orders: orders carrying it (each within the order cap and the lot's maximum quantity).
    :param flags: bit mask of ``asterrl.risk.gate.FLAG_*``.
    :param rejected: a voluntary order was refused (limits, filters or bad input).
    """

    order_qty: float
    forced_qty: float
    n_orders: int
    flags: int
    rejected: bool

    @property
    def halt(self) -> bool:
        """A loss limit was breached, or an input was unusable: stop trading (a live bridge halts)."""
        return bool(self.flags & (HALT | FLAG_BAD_INPUT | FLAG_BAD_STATE))

    def reasons(self) -> list[str]:
        """Names of the flags that fired, e.g. ``["leverage_clipped"]``."""
        return flag_names(self.flags)


class RiskGate:
    """Typed Python entry to ``decide_order`` for one order (the live bridge calls it unchanged).

    :param limits: the risk limits, validated against ``instrument``.
    :param instrument: the symbol's trading rules.
    :param reduce_only_exits: whether orders that only shrink the position are sent reduce-only.
    """

    def __init__(self, limits: RiskLimits, instrument: Instrument, reduce_only_exits: bool = True) -> None:
        self.limits = limits.validate(instrument)
        self.instrument = instrument
        self._limits = limits.to_array()
        self._brackets = instrument.bracket_table()
        self._params = MarketModelConfig(reduce_only_exits=reduce_only_exits).to_params(instrument)

    def decide(
        self,
        *,
        current_qty: float,
        target_qty: float,
        mark_price: float,
        equity: float,
        peak_equity: float,
        day_start_equity: float,
        unit_cost: float = 0.0,
        data_age_ms: float = 0.0,
        orders_last_minute: float = 0.0,
        price_deviation: float = 0.0,
        limit_price: float | None = None,
        cap_price: float | None = None,
    ) -> OrderDecision:
        """Decide one order; quantities in base asset, money in USDT (see ``decide_order``).

        An unusable input (NaN, a negative price, ...) sends nothing and logs why; ``halt`` is then true.
        """
        given = (current_qty, target_qty, mark_price, equity, unit_cost, peak_equity, day_start_equity,
                 data_age_ms, orders_last_minute, price_deviation)  # fmt: skip
        values = [_as_float(value) for value in given]
        limit = 0.0 if limit_price is None else _as_float(limit_price)
        cap = _as_float(cap_price) if cap_price is not None else (limit if limit > 0.0 else values[2])
        if not (math.isfinite(cap) and cap > 0.0) or not math.isfinite(limit):
            values[2] = math.nan  # an unusable order price is bad input like an unusable mark
            cap = 1.0
        order, forced, n, flags, rejected = decide_order(
            values[0], values[1], values[2], values[3], values[4], values[5], values[6], values[7], values[8],
            values[9], limit, cap, self._params, self._brackets, self._limits,
        )  # fmt: skip
        decision = OrderDecision(float(order), float(forced), int(n), int(flags), bool(rejected))
        if flags & (FLAG_BAD_INPUT | FLAG_BAD_STATE):
            log.error("risk gate refused an order on bad input: %s", _describe(values, limit))
        return decision


def _as_float(value: object) -> float:
    """A number as a float; anything else (None, a string, a bool) as NaN, which the gate refuses."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        return math.nan
    return float(value)


def _describe(values: list[float], limit: float) -> str:
    names = ("current_qty", "target_qty", "mark_price", "equity", "unit_cost", "peak_equity",
             "day_start_equity", "data_age_ms", "orders_last_minute", "price_deviation")  # fmt: skip
    return ", ".join(f"{n}={v!r}" for n, v in zip(names, values, strict=True)) + f", limit_price={limit!r}"
