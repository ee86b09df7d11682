"""The local exchange's market model: prices, fees, liquidations and funding all come from asterrl.sim.

This module is the one bridge from the exchange's order book to the numba kernels of ``asterrl.sim`` (the
same arithmetic as the env and the backtester), over the per-bar arrays of ``asterrl.sim.MarketData``.
Timing follows the env: an order placed while bar ``k`` is the current bar is decided on bar ``k - 1``'s
close and fills at bar ``k``'s open (half-spread and volatility known at ``k - 1``, bar ``k``'s volume for
impact and the participation cap). A resting limit order fills at its limit with the maker fee once a
bar trades through it (low below a buy, high above a sell); at bar ``k``'s open a gap beyond maintenance
liquidates first; over the bar the adverse valuation extreme is checked; funding settles at the bar's close
on the valuation (mark) close.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from asterrl.sim import layout as L
from asterrl.sim.account import _half_spread, _liquidate_if_breached
from asterrl.sim.kernels import apply_fill, market_fill_price, round_qty_toward_zero

FloatArray = npt.NDArray[np.float64]


def taker_fill_price(
    values: FloatArray, params: FloatArray, bar: int, side: float, size: float, reference: float | None = None
) -> float:
    """Price a market order of ``size`` (base asset) on ``side`` (+1 buy, -1 sell) fills at in ``bar``.

    :param reference: the price slippage is measured from; bar ``bar``'s open unless given (a stop order
        triggered inside the bar fills from its trigger price).
    """
    decided = max(bar - 1, 0)
    ref = float(values[bar, L.M_OPEN]) if reference is None else reference
    return float(
        market_fill_price(
            side,
            ref,
            _half_spread(values, params, decided),
            params[L.P_IMPACT_K],
            values[decided, L.M_SIGMA],
            size * ref,
            values[bar, L.M_NOTIONAL_VOLUME],
            params[L.P_TICK],
        )
    )


def participation_room(values: FloatArray, params: FloatArray, bar: int, consumed: float) -> float:
    """Quantity (base asset) still fillable in ``bar``: the participation cap of its volume less what
    earlier fills in the bar took, on the lot grid."""
    room = params[L.P_PARTICIPATION] * values[bar, L.M_VOLUME] - consumed
    return float(round_qty_toward_zero(max(room, 0.0), params[L.P_STEP]))


def marketable(values: FloatArray, bar: int, side: float, limit: float) -> bool:
    """A limit order is marketable at ``bar``'s open when the open is at or through its price."""
    ref = values[bar, L.M_OPEN]
    return bool(ref <= limit if side > 0.0 else ref >= limit)


def marketable_limit_price(
    values: FloatArray, params: FloatArray, bar: int, side: float, size: float, limit: float
) -> float:
    """Fill price of a marketable limit order: the market fill, never worse than the limit."""
    price = taker_fill_price(values, params, bar, side, size)
    return min(price, limit) if side > 0.0 else max(price, limit)


def traded_through(values: FloatArray, bar: int, side: float, limit: float) -> bool:
    """A resting limit order fills over ``bar`` when the bar trades through its price."""
    return bool(values[bar, L.M_LOW] < limit if side > 0.0 else values[bar, L.M_HIGH] > limit)


@dataclass(frozen=True, slots=True)
class BookedFill:
    """An account's position after a fill, and what the fill realised (USDT)."""

    wallet: float
    qty: float
    entry: float
    fee: float
    realized_pnl: float


def book_fill(
    wallet: float, qty: float, entry: float, fill_qty: float, price: float, fee_rate: float, step: float
) -> BookedFill:
    """Book a signed ``fill_qty`` at ``price`` with ``fee_rate`` of its notional (one-way mode)."""
    fee = abs(fill_qty) * price * fee_rate
    new_wallet, new_qty, new_entry = apply_fill(wallet, qty, entry, fill_qty, price, fee, step)
    opening = qty == 0.0 or qty * fill_qty > 0.0  # nothing realised (and no float noise reported)
    return BookedFill(new_wallet, new_qty, new_entry, fee, 0.0 if opening else new_wallet - wallet + fee)


@dataclass(frozen=True, slots=True)
class Liquidation:
    """A position closed by the liquidation engine: exit price, fee and loss beyond the margin (USDT)."""

    price: float
    qty: float
    realized_pnl: float
    fee: float
    shortfall: float
    wallet_change: float


def liquidate_if_breached(
    margin_wallet: float,
    qty: float,
    entry: float,
    values: FloatArray,
    params: FloatArray,
    brackets: FloatArray,
    bar: int,
    at_open: bool,
) -> Liquidation | None:
    """Run the sim's liquidation rule for one position over ``bar`` (or at its open when ``at_open``).

    :param margin_wallet: the wallet backing this position (cross margin: the wallet plus the other
        positions' unrealised PnL less their maintenance margin).
    :returns: ``None`` when the position survives.
    """
    fstate = np.zeros((L.N_FLOAT_STATE, 1), dtype=np.float64)
    report = np.zeros(L.N_REPORT, dtype=np.float64)
    fstate[L.S_WALLET, 0], fstate[L.S_QTY, 0], fstate[L.S_ENTRY, 0] = margin_wallet, qty, entry
    if not _liquidate_if_breached(0, fstate, values, params, brackets, bar, at_open, report):
        return None
    price = float(report[L.R_FILL_PRICE])
    fee = float(report[L.R_LIQUIDATION_FEE])
    change = float(fstate[L.S_WALLET, 0]) - margin_wallet
    return Liquidation(
        price=price,
        qty=qty,
        realized_pnl=qty * (price - entry),
        fee=fee,
        shortfall=float(report[L.R_SHORTFALL]),
        wallet_change=change,
    )


def funding_payment(values: FloatArray, bar: int, qty: float) -> float | None:
    """Funding received (negative: paid) at ``bar``'s close by a position of ``qty``, or ``None`` when no
    settlement falls there: ``-qty * valuation close * rate`` (positive rates: longs pay shorts)."""
    if values[bar, L.M_FUNDING_EVENT] <= 0.0:
        return None
    return float(-qty * values[bar, L.M_VALUE_CLOSE] * values[bar, L.M_FUNDING_RATE])
