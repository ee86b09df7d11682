"""The local exchange's market model: prices, fees, liquidations and funding all come from asterrl.sim.

This module is the one bridge from the exchange's order book to the numba kernels of ``asterrl.sim`` (the
same arithmetic as the env and the backtester), over the per-bar arrays of ``asterrl.sim.MarketArrays``.
Timing follows the env: an order placed while bar ``k`` is the current bar is decided on bar ``k - 1``'s
close and fills at bar ``k``'s open, with the half-spread, volatility and mean volume known at ``k - 1``
(``asterrl.sim.fills``). A limit order that reaches the modelled touch takes what it can at once as a
taker, capped at its limit; the rest rests and fills as a maker at its limit over a bar that trades through
it by a tick or more, in proportion to how far (the env's rule, ``asterrl.sim.config.LimitOrderConfig``).
At bar ``k``'s open a gap beyond maintenance liquidates first; over the bar the adverse valuation extreme
is checked; funding settles at the bar's close on the valuation (mark) close.

Several orders share a bar: ``taken`` arguments are what earlier fills of the bar took from its taker
(participation) or maker (volume share) allowance, base asset.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from asterrl.sim import account as sim_account
from asterrl.sim import fills as sim_fills
from asterrl.sim.kernels import funding_payment as sim_funding_payment
from asterrl.sim.layout import N_FLOAT_STATE, N_REPORT, Account, Market, Report

FloatArray = npt.NDArray[np.float64]


def taker_fill_price(values: FloatArray, params: FloatArray, bar: int, side: float, size: float) -> float:
    """Price a market order of ``size`` (base asset) on ``side`` (+1 buy, -1 sell) fills at in ``bar``."""
    return float(sim_fills.taker_price(side, values[bar, Market.OPEN], size, values, params, bar - 1))


def stop_fill_price(
    values: FloatArray, params: FloatArray, bar: int, side: float, size: float, trigger: float, mark: bool
) -> float:
    """Price a stop-market order triggered inside ``bar`` at ``trigger`` fills at (the sim's stop rule).

    :param trigger: the trigger price, or the open the bar gapped to beyond it, USDT.
    :param mark: whether ``trigger`` is a mark (valuation) price; else a last-trade price, carried to the
        valuation with the bar's opening basis as the sim's stop rule expects.
    """
    if not mark:
        trigger *= values[bar, Market.VALUE_OPEN] / values[bar, Market.OPEN]
    return float(sim_fills.stop_fill_price(side, trigger, bar, bar - 1, size, values, params))


def market_room(values: FloatArray, params: FloatArray, bar: int, taken: float) -> float:
    """Quantity (base asset) market orders may still take in ``bar``: the participation cap of the volume
    known at the previous close less ``taken``, on the lot grid."""
    return float(sim_fills.participation_room(values, params, bar - 1, taken))


def reaches_touch(values: FloatArray, params: FloatArray, bar: int, side: float, limit: float) -> bool:
    """Whether a limit order at ``limit`` reaches the modelled best quote on the other side in ``bar``
    (a post-only order that does would cross)."""
    return bool(sim_fills.reaches_touch(side, limit, values, params, bar - 1))


def limit_taker_fill(
    values: FloatArray, params: FloatArray, bar: int, side: float, size: float, limit: float, taken: float
) -> tuple[float, float]:
    """``(size, price)`` of the part of a limit order that fills at once as a taker in ``bar``."""
    take = float(sim_fills.limit_taker_size(side, size, limit, values, params, bar - 1, taken))
    if take <= 0.0:
        return 0.0, 0.0
    return take, float(sim_fills.limit_taker_price(side, take, limit, values, params, bar - 1))


def resting_fill(
    values: FloatArray, params: FloatArray, bar: int, side: float, size: float, limit: float, taken: float
) -> float:
    """Quantity (base asset) of a resting limit order of ``size`` that fills as a maker over ``bar``."""
    return float(sim_fills.resting_fill_size(side, size, limit, values, params, bar, taken))


@dataclass(frozen=True, slots=True)
class BookedFill:
    """An account's position after a fill, and what the fill realised (USDT)."""

    wallet: float
    qty: float
    entry: float
    fee: float
    realized_pnl: float


def book_fill(
    wallet: float,
    qty: float,
    entry: float,
    fill_qty: float,
    price: float,
    fee_rate: float,
    params: FloatArray,
) -> BookedFill:
    """Book a signed ``fill_qty`` at ``price`` with ``fee_rate`` of its notional (one-way mode), through the
    sim's ``book_fill``."""
    fstate = np.zeros((N_FLOAT_STATE, 1), dtype=np.float64)
    report = np.zeros(N_REPORT, dtype=np.float64)
    fstate[Account.WALLET, 0], fstate[Account.QTY, 0], fstate[Account.ENTRY, 0] = wallet, qty, entry
    sim_fills.book_fill(0, fill_qty, price, fee_rate, price, False, fstate, params, report)
    new_wallet = float(fstate[Account.WALLET, 0])
    fee = float(report[Report.FEE])
    opening = qty == 0.0 or qty * fill_qty > 0.0  # nothing realised (and no float noise reported)
    realized = 0.0 if opening else new_wallet - wallet + fee
    return BookedFill(
        new_wallet, float(fstate[Account.QTY, 0]), float(fstate[Account.ENTRY, 0]), fee, realized
    )


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
    fstate = np.zeros((N_FLOAT_STATE, 1), dtype=np.float64)
    report = np.zeros(N_REPORT, dtype=np.float64)
    fstate[Account.WALLET, 0], fstate[Account.QTY, 0], fstate[Account.ENTRY, 0] = margin_wallet, qty, entry
    if not sim_account.liquidate_if_breached(0, fstate, values, params, brackets, bar, at_open, report):
        return None
    price = float(report[Report.FILL_PRICE])
    return Liquidation(
        price=price,
        qty=qty,
        realized_pnl=qty * (price - entry),
        fee=float(report[Report.LIQUIDATION_FEE]),
        shortfall=float(report[Report.SHORTFALL]),
        wallet_change=float(fstate[Account.WALLET, 0]) - margin_wallet,
    )


def funding_payment(values: FloatArray, bar: int, qty: float) -> float | None:
    """Funding received (negative: paid) at ``bar``'s close by a position of ``qty``, or ``None`` when no
    settlement falls there (the sim's rule, on the valuation close)."""
    if values[bar, Market.FUNDING_EVENT] <= 0.0:
        return None
    return float(sim_funding_payment(qty, values[bar, Market.VALUE_CLOSE], values[bar, Market.FUNDING_RATE]))
