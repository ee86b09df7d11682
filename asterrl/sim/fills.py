"""How an order fills in bar ``k`` = ``t + 1``: market orders, one-bar limit orders and stop-market exits.

All costs use what was known when the order was sent: the half-spread and volatility of the decision bar
``t``'s close, and the mean volume of the bars up to ``t`` (impact and the participation cap); the fill
bar's own volume is known only at its close. Only a resting limit order, which fills while the bar trades,
is sized by the fill bar's volume (see ``asterrl.sim.config.LimitOrderConfig`` for the model).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

from asterrl.sim.kernels import (
    apply_fill,
    market_fill_price,
    marketable_size,
    round_price_adverse,
    round_qty_toward_zero,
)
from asterrl.sim.layout import Account, Market, Param, Report


@njit(cache=True)
def half_spread(market: npt.NDArray[np.float64], params: npt.NDArray[np.float64], bar: int) -> float:
    """Half-spread for an order decided at ``bar``'s close: the fixed setting, else the bar's estimate."""
    fixed = params[Param.HALF_SPREAD]
    return fixed if fixed >= 0.0 else market[bar, Market.HALF_SPREAD]


@njit(cache=True)
def taker_price(
    side: float,
    reference: float,
    size: float,
    market: npt.NDArray[np.float64],
    params: npt.NDArray[np.float64],
    t: int,
) -> float:
    """Price a taker order of ``size`` (base asset) decided at ``t``'s close fills at: ``reference`` moved
    by the half-spread and the impact on the known volume, rounded to the tick against the trader."""
    return market_fill_price(
        side, reference, half_spread(market, params, t), params[Param.IMPACT_K], market[t, Market.SIGMA],
        size * reference, market[t, Market.KNOWN_NOTIONAL], params[Param.TICK],
    )  # fmt: skip


@njit(cache=True)
def book_fill(
    i: int,
    fill_qty: float,
    price: float,
    fee_rate: float,
    reference: float,
    maker: bool,
    fstate: npt.NDArray[np.float64],
    params: npt.NDArray[np.float64],
    report: npt.NDArray[np.float64],
) -> None:
    """Book a fill of ``fill_qty`` at ``price`` in account ``i`` and the step report.

    Slippage is ``|qty| * |price - reference|`` for taker fills; a maker fill at its limit has none.
    """
    size = abs(fill_qty)
    fee = size * price * fee_rate
    wallet, qty, entry = apply_fill(
        fstate[Account.WALLET, i], fstate[Account.QTY, i], fstate[Account.ENTRY, i], fill_qty, price, fee,
        params[Param.STEP],
    )  # fmt: skip
    fstate[Account.WALLET, i] = wallet
    fstate[Account.QTY, i] = qty
    fstate[Account.ENTRY, i] = entry
    report[Report.FEE] += fee
    if maker:
        report[Report.MAKER_QTY] += size
    else:
        report[Report.SLIPPAGE] += size * abs(price - reference)
    report[Report.FILL_QTY] += fill_qty
    report[Report.FILL_PRICE] = price
    report[Report.TRADED_NOTIONAL] += size * price


@njit(cache=True)
def fill_market(
    i: int,
    side: float,
    size: float,
    reference: float,
    market: npt.NDArray[np.float64],
    params: npt.NDArray[np.float64],
    t: int,
    fstate: npt.NDArray[np.float64],
    report: npt.NDArray[np.float64],
) -> None:
    """A market order of ``size`` (base asset) at ``reference`` moved by half-spread and impact, as taker."""
    if size <= 0.0:
        return
    price = taker_price(side, reference, size, market, params, t)
    book_fill(i, side * size, price, params[Param.TAKER_FEE], reference, False, fstate, params, report)


@njit(cache=True)
def touch_price(
    side: float, market: npt.NDArray[np.float64], params: npt.NDArray[np.float64], t: int
) -> float:
    """The modelled best quote an order decided at ``t``'s close meets at bar ``t + 1``'s open, USDT: the
    open moved by the half-spread to the ask (a buy) or the bid (a sell), on the tick."""
    reference = market[t + 1, Market.OPEN]
    return round_price_adverse(
        reference * (1.0 + side * half_spread(market, params, t)), side, params[Param.TICK]
    )


@njit(cache=True)
def reaches_touch(
    side: float,
    limit_price: float,
    market: npt.NDArray[np.float64],
    params: npt.NDArray[np.float64],
    t: int,
) -> bool:
    """Whether a limit order at ``limit_price`` decided at ``t``'s close reaches ``touch_price`` (it is
    marketable at bar ``t + 1``'s open)."""
    tick = params[Param.TICK]
    return side * (limit_price - touch_price(side, market, params, t)) >= -1e-9 * tick


@njit(cache=True)
def participation_room(
    market: npt.NDArray[np.float64], params: npt.NDArray[np.float64], t: int, taken: float
) -> float:
    """Base asset a taker order decided at ``t``'s close may take in bar ``t + 1``: the participation cap of
    the mean volume known at ``t`` less ``taken`` (what earlier orders of the bar took), on the lot grid."""
    cap = params[Param.PARTICIPATION] * market[t, Market.KNOWN_VOLUME] - taken
    return round_qty_toward_zero(max(cap, 0.0), params[Param.STEP])


@njit(cache=True)
def limit_taker_size(
    side: float,
    size: float,
    limit_price: float,
    market: npt.NDArray[np.float64],
    params: npt.NDArray[np.float64],
    t: int,
    taken: float,
) -> float:
    """The part (base asset) of a limit order of ``size`` decided at ``t``'s close that fills at once as a
    taker at bar ``t + 1``'s open: none unless the limit reaches the touch (``touch_price``), else up to the
    size whose impact stays within the limit, within the participation room left after ``taken``."""
    if not reaches_touch(side, limit_price, market, params, t):
        return 0.0
    room = marketable_size(
        side, limit_price, market[t + 1, Market.OPEN], half_spread(market, params, t), params[Param.IMPACT_K],
        market[t, Market.SIGMA], market[t, Market.KNOWN_NOTIONAL],
    )  # fmt: skip
    wanted = round_qty_toward_zero(min(size, room), params[Param.STEP])
    return min(wanted, participation_room(market, params, t, taken))


@njit(cache=True)
def limit_taker_price(
    side: float,
    size: float,
    limit_price: float,
    market: npt.NDArray[np.float64],
    params: npt.NDArray[np.float64],
    t: int,
) -> float:
    """Price (USDT) the taker part of ``size`` of a limit order fills at: the market order's, capped at the
    limit."""
    price = taker_price(side, market[t + 1, Market.OPEN], size, market, params, t)
    return min(price, limit_price) if side > 0.0 else max(price, limit_price)


@njit(cache=True)
def resting_fill_size(
    side: float,
    size: float,
    limit_price: float,
    market: npt.NDArray[np.float64],
    params: npt.NDArray[np.float64],
    k: int,
    taken: float,
) -> float:
    """The part (base asset) of a limit order of ``size`` resting at ``limit_price`` that fills as a maker
    over bar ``k``: none unless the bar trades through the limit by a tick or more, else the share
    ``min(1, penetration / (queue_depth * limit))`` of it, at most ``volume_share`` of the bar's volume less
    ``taken`` (what other resting orders took from it), on the lot grid."""
    tick = params[Param.TICK]
    through = limit_price - tick if side > 0.0 else limit_price + tick
    crossed = (
        market[k, Market.LOW] <= through + 1e-9 * tick
        if side > 0.0
        else (market[k, Market.HIGH] >= through - 1e-9 * tick)
    )
    if not crossed:
        return 0.0
    penetration = limit_price - market[k, Market.LOW] if side > 0.0 else market[k, Market.HIGH] - limit_price
    depth = params[Param.LIMIT_QUEUE_DEPTH] * limit_price
    through_share = min(1.0, penetration / depth) if depth > 0.0 else 1.0
    cap = params[Param.LIMIT_VOLUME_SHARE] * market[k, Market.VOLUME] - taken
    return round_qty_toward_zero(max(min(size * through_share, cap), 0.0), params[Param.STEP])


@njit(cache=True)
def fill_limit(
    i: int,
    side: float,
    size: float,
    limit_price: float,
    market: npt.NDArray[np.float64],
    params: npt.NDArray[np.float64],
    t: int,
    fstate: npt.NDArray[np.float64],
    report: npt.NDArray[np.float64],
) -> float:
    """A one-bar limit order of ``size`` at ``limit_price`` (on the tick grid) in bar ``t + 1``; returns the
    size filled.

    The part that reaches the modelled touch at the open fills at once as a taker (market price capped at
    the limit, up to the size whose impact stays within it and the participation cap); the rest rests and
    fills as a maker at the limit only when the bar trades through it by a tick or more: the share
    ``min(1, penetration / (queue_depth * limit))`` of it, at most ``volume_share`` of the bar's volume
    (``asterrl.sim.config.LimitOrderConfig`` explains the model).
    """
    taker = limit_taker_size(side, size, limit_price, market, params, t, 0.0)
    if taker > 0.0:
        price = limit_taker_price(side, taker, limit_price, market, params, t)
        reference = market[t + 1, Market.OPEN]
        book_fill(i, side * taker, price, params[Param.TAKER_FEE], reference, False, fstate, params, report)
    rest = size - taker
    if rest <= 0.0:
        return taker
    maker = resting_fill_size(side, rest, limit_price, market, params, t + 1, 0.0)
    if maker > 0.0:
        book_fill(i, side * maker, limit_price, params[Param.MAKER_FEE], limit_price, True, fstate, params,
                  report)  # fmt: skip
    return taker + maker


@njit(cache=True)
def stop_fill_price(
    side: float, trigger: float, k: int, t: int, size: float, market: npt.NDArray[np.float64],
    params: npt.NDArray[np.float64],
) -> float:  # fmt: skip
    """Fill price (USDT) of a stop-market exit triggered at valuation price ``trigger`` inside bar ``k``.

    The trigger is carried to last-trade prices with the bar's opening basis and kept within the bar's
    range; with ``stop_slippage`` the order then pays half-spread and impact like any market order.
    """
    basis = market[k, Market.OPEN] / market[k, Market.VALUE_OPEN]
    reference = min(max(trigger * basis, market[k, Market.LOW]), market[k, Market.HIGH])
    if params[Param.STOP_SLIPPAGE] <= 0.0:
        return round_price_adverse(reference, side, params[Param.TICK])
    return taker_price(side, reference, size, market, params, t)


@njit(cache=True)
def limit_price_on_grid(price: float, side: float, tick: float) -> float:
    """A limit price on the tick grid, never worse for the trader than asked: buys round down, sells up."""
    units = math.floor(price / tick + 1e-9) if side > 0.0 else math.ceil(price / tick - 1e-9)
    return units * tick
