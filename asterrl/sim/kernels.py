"""The market model's rules, one numba function each: filters, fees, slippage, fills, margin, liquidation.

Units: prices USDT, quantities base asset (signed: + long, - short), rates fractions. Every function is
pure (scalars in, scalars out) so the env, the backtester, the local exchange simulator and paper trading
share exactly the same arithmetic.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

_EPS = 1e-9


@njit(cache=True)
def round_qty_toward_zero(qty: float, step: float) -> float:
    """Quantity rounded towards zero to a multiple of the lot ``step`` (never beyond what was asked).

    An infinite quantity (an uncapped bound) stays infinite.
    """
    if math.isinf(qty):
        return qty
    units = math.floor(abs(qty) / step + _EPS)
    return math.copysign(units * step, qty) if units > 0 else 0.0


@njit(cache=True)
def round_size_up(size: float, step: float) -> float:
    """Unsigned size rounded up to a multiple of the lot ``step`` (a forced exit never falls short)."""
    if math.isinf(size):
        return size
    return math.ceil(size / step - _EPS) * step if size > 0.0 else 0.0


@njit(cache=True)
def round_price_adverse(price: float, side: float, tick: float) -> float:
    """Fill price rounded to the ``tick`` against the trader: up for a buy (``side`` > 0), down for a sell."""
    if side > 0.0:
        return math.ceil(price / tick - _EPS) * tick
    return math.floor(price / tick + _EPS) * tick


@njit(cache=True)
def is_reduce_only(current_qty: float, target_qty: float) -> bool:
    """True when moving from ``current_qty`` to ``target_qty`` only shrinks the position (no flip)."""
    return current_qty * target_qty >= 0.0 and abs(target_qty) < abs(current_qty)


@njit(cache=True)
def square_root_impact(impact_k: float, sigma: float, order_notional: float, bar_notional: float) -> float:
    """Market impact as a fraction of price: ``k * sigma * sqrt(order notional / bar notional volume)``."""
    if bar_notional <= 0.0 or order_notional <= 0.0:
        return 0.0
    return impact_k * sigma * math.sqrt(order_notional / bar_notional)


@njit(cache=True)
def market_fill_price(
    side: float,
    reference_price: float,
    half_spread: float,
    impact_k: float,
    sigma: float,
    order_notional: float,
    bar_notional: float,
    tick: float,
) -> float:
    """Price a market order fills at: reference moved by half-spread plus impact, rounded to the tick."""
    slip = half_spread + square_root_impact(impact_k, sigma, order_notional, bar_notional)
    return round_price_adverse(reference_price * (1.0 + side * slip), side, tick)


@njit(cache=True)
def marketable_size(
    side: float,
    limit_price: float,
    reference_price: float,
    half_spread: float,
    impact_k: float,
    sigma: float,
    bar_notional: float,
) -> float:
    """Largest size (base asset) a limit order takes as a taker before its impact passes the limit price.

    Solves ``reference * (1 + side * (half_spread + k * sigma * sqrt(q * reference / bar_notional)))`` =
    ``limit`` for ``q``: 0 when the limit does not reach the touch, ``inf`` when impact is off.
    """
    room = side * (limit_price / reference_price - 1.0) - half_spread
    if room < 0.0:
        return 0.0
    scale = impact_k * sigma
    if scale <= 0.0 or bar_notional <= 0.0:
        return math.inf
    return bar_notional / reference_price * (room / scale) ** 2


@njit(cache=True)
def bracket_row(notional: float, brackets: npt.NDArray[np.float64]) -> int:
    """Row of the margin bracket table (``Instrument.bracket_table``) holding ``notional`` (USDT)."""
    last = brackets.shape[0] - 1
    for row in range(last):
        if notional < brackets[row, 1]:
            return row
    return last


@njit(cache=True)
def maintenance_margin(notional: float, brackets: npt.NDArray[np.float64]) -> float:
    """Maintenance margin of a position of ``notional`` USDT: ``notional * rate - cum`` of its bracket."""
    if notional <= 0.0:
        return 0.0
    row = bracket_row(notional, brackets)
    return notional * brackets[row, 2] - brackets[row, 3]


@njit(cache=True)
def bracket_max_leverage(notional: float, brackets: npt.NDArray[np.float64]) -> float:
    """Highest leverage the bracket of ``notional`` USDT allows."""
    return brackets[bracket_row(notional, brackets), 4]


@njit(cache=True)
def liquidation_price(wallet: float, qty: float, entry: float, brackets: npt.NDArray[np.float64]) -> float:
    """Valuation price at which ``wallet + qty * (p - entry)`` equals the maintenance margin at ``p``.

    Cross margin with one position: ``p = (qty * entry - wallet - cum) / (qty - |qty| * rate)``, solved in
    each bracket and kept where the implied notional falls inside that bracket. Returns 0 for a long (or
    ``inf`` for a short) that cannot be liquidated.
    """
    if qty == 0.0:
        return 0.0
    for row in range(brackets.shape[0]):
        rate, cum = brackets[row, 2], brackets[row, 3]
        denom = qty - abs(qty) * rate
        if denom == 0.0:
            continue
        price = (qty * entry - wallet - cum) / denom
        notional = abs(qty) * price
        if price > 0.0 and brackets[row, 0] <= notional < brackets[row, 1]:
            return price
    return 0.0 if qty > 0.0 else math.inf


@njit(cache=True)
def funding_payment(qty: float, valuation_price: float, rate: float) -> float:
    """Funding received (negative: paid) by a position of ``qty`` at a settlement, USDT:
    ``-qty * valuation price * rate`` (a positive rate: longs pay shorts)."""
    return -qty * valuation_price * rate


@njit(cache=True)
def apply_fill(
    wallet: float, qty: float, entry: float, fill_qty: float, price: float, fee: float, step: float
) -> tuple[float, float, float]:
    """Book a fill in one-way mode; return ``(wallet, qty, entry)``.

    Adding to a position averages the entry price; reducing realises ``closed * (price - entry)`` into the
    wallet; crossing zero realises the whole old position and opens the rest at ``price``. The fee is
    debited from the wallet. The new quantity is snapped to the lot grid to keep float noise out.
    """
    new_qty = round((qty + fill_qty) / step) * step
    if qty == 0.0 or qty * fill_qty > 0.0:
        entry = (qty * entry + fill_qty * price) / (qty + fill_qty)
    else:
        closed = min(abs(fill_qty), abs(qty))
        wallet += math.copysign(closed, qty) * (price - entry)
        if new_qty == 0.0:
            entry = 0.0
        elif new_qty * qty < 0.0:
            entry = price
    return wallet - fee, new_qty, entry
