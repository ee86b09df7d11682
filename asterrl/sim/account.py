"""One account through one bar: the order at the open, the in-bar stop, liquidation, funding, valuation.

``advance_account`` is the single implementation of the bar step. The environment (single and batched),
the backtester and the paper/local simulators call it; state lives in the struct-of-arrays ``fstate`` /
``istate`` (see ``asterrl.sim.layout``), so one account is one column.

Timing: the account's decision bar is ``t = istate[Counter.BAR]`` (its close has been seen). A position
already beyond maintenance at bar ``k = t + 1``'s open (a gap) is liquidated there first. Else the order
passes ``decide_order`` (risk gate and exchange filters) and fills at ``k``'s open (``asterrl.sim.fills``).
Then, over bar ``k``: the loss limits' protective stop (a stop-market order at the valuation price where
the first loss limit is reached, filled at that price or the gap, with its slippage), liquidation against
the adverse extreme of the valuation price (whichever of the two the price reaches first), funding settling
at ``k``'s close, valuation at ``k``'s close, and the loss limits again (a breach there -- from funding,
say -- flattens at the next bar's open). A stop or a breach halts the account and ends the episode.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

from asterrl.risk.gate import (
    HALT,
    drifted_beyond_tolerance,
    loss_limit_flags,
    loss_stop_equity,
    loss_stop_flag,
)
from asterrl.risk.limits import Limit
from asterrl.risk.order_decision import decide_order, forced_exit_orders
from asterrl.sim.fills import (
    book_fill,
    fill_limit,
    fill_market,
    limit_price_on_grid,
    participation_room,
    stop_fill_price,
    taker_price,
)
from asterrl.sim.kernels import funding_payment, liquidation_price, maintenance_margin
from asterrl.sim.layout import N_FLOAT_STATE, N_INT_STATE, Account, Counter, Market, Param, Report


@njit(cache=True)
def _place_order(
    i: int,
    target_qty: float,
    limit_price: float,
    fstate: npt.NDArray[np.float64],
    market: npt.NDArray[np.float64],
    params: npt.NDArray[np.float64],
    brackets: npt.NDArray[np.float64],
    limits: npt.NDArray[np.float64],
    t: int,
    report: npt.NDArray[np.float64],
) -> int:
    """Decide and fill the order moving the position towards ``target_qty`` at bar ``t + 1``'s open.

    ``limit_price`` <= 0 sends a market order, a positive one a one-bar limit order (rounded to the tick in
    the trader's favour). The forced part of an order (a trim back within the limits, a halt's flatten)
    fills reduce-only at market whatever the order type, with no participation cap. Returns the flags.
    """
    k = t + 1
    wallet, qty, entry = fstate[Account.WALLET, i], fstate[Account.QTY, i], fstate[Account.ENTRY, i]
    value_open = market[k, Market.VALUE_OPEN]
    equity_open = wallet + qty * (value_open - entry)
    peak, day_start = fstate[Account.PEAK_EQUITY, i], fstate[Account.DAY_START_EQUITY, i]
    # A hold sends no order unless a loss limit fires or the position drifted too far (cheap checks first).
    if (
        target_qty == qty
        and loss_limit_flags(equity_open, peak, day_start, limits) == 0
        and not drifted_beyond_tolerance(qty, value_open, equity_open, limits)
    ):
        return 0
    ref = market[k, Market.OPEN]
    wanted = abs(target_qty - qty) if math.isfinite(target_qty) else 0.0
    # Cost per unit traded that the gate counts: the worse of a buy and a sell, sized for the larger of the
    # wanted order and the whole position (a trim can be that large), so its caps hold after any fill.
    est_size = max(wanted, abs(qty))
    buy = taker_price(1.0, ref, est_size, market, params, t)
    sell = taker_price(-1.0, ref, est_size, market, params, t)
    taker = params[Param.TAKER_FEE]
    unit_cost = max(taker * buy + abs(buy - value_open), taker * sell + abs(sell - value_open))
    side = 1.0 if target_qty > qty else -1.0
    if limit_price > 0.0 and math.isfinite(limit_price):
        limit_price = limit_price_on_grid(limit_price, side, params[Param.TICK])
        deviation = abs(limit_price / value_open - 1.0)
    else:
        limit_price = 0.0
        deviation = abs((buy if side > 0.0 else sell) / value_open - 1.0)
    cap_price = max(buy, value_open, limit_price)
    order, forced, n_orders, flags, rejected = decide_order(
        qty, target_qty, value_open, equity_open, unit_cost, peak, day_start, market[k, Market.DATA_AGE_MS],
        0.0, deviation, limit_price, cap_price, params, brackets, limits,
    )  # fmt: skip
    if rejected:
        report[Report.REJECTED] = 1.0
    if order == 0.0:
        return flags
    report[Report.ORDERS] = n_orders
    report[Report.FORCED_QTY] = forced
    if (order > 0.0) != (side > 0.0):  # the gate turned the order around (a trim): no limit on its side
        limit_price = 0.0
    side = 1.0 if order > 0.0 else -1.0
    voluntary = abs(order) - forced
    if limit_price > 0.0 and not flags & HALT:
        fill_market(i, side, forced, ref, market, params, t, fstate, report)
        filled = fill_limit(i, side, voluntary, limit_price, market, params, t, fstate, report)
    else:
        room = participation_room(market, params, t, 0.0)
        filled = voluntary if flags & HALT else min(voluntary, room)
        fill_market(i, side, forced + filled, ref, market, params, t, fstate, report)
    if filled < voluntary:
        report[Report.PARTIAL_FILL] = 1.0
    return flags


@njit(cache=True)
def _stop_inside_bar(
    i: int,
    fstate: npt.NDArray[np.float64],
    market: npt.NDArray[np.float64],
    params: npt.NDArray[np.float64],
    brackets: npt.NDArray[np.float64],
    limits: npt.NDArray[np.float64],
    t: int,
    report: npt.NDArray[np.float64],
) -> bool:
    """Fill the loss limits' protective stop if bar ``t + 1``'s valuation reaches it before liquidation.

    The stop sits at the valuation price where equity falls to the first loss limit's threshold; it is
    a reduce-only stop-market order for the whole position (reference §8: STOP_MARKET, closePosition).
    """
    k = t + 1
    qty = fstate[Account.QTY, i]
    threshold = loss_stop_equity(fstate[Account.PEAK_EQUITY, i], fstate[Account.DAY_START_EQUITY, i], limits)
    if qty == 0.0 or not math.isfinite(threshold):
        return False
    wallet, entry = fstate[Account.WALLET, i], fstate[Account.ENTRY, i]
    trigger = entry + (threshold - wallet) / qty
    reached = market[k, Market.VALUE_LOW] <= trigger if qty > 0.0 else market[k, Market.VALUE_HIGH] >= trigger
    if not reached:  # the common case, decided before the costlier liquidation price
        return False
    liquidation = liquidation_price(wallet, qty, entry, brackets)
    if (qty > 0.0 and trigger <= liquidation) or (qty < 0.0 and trigger >= liquidation):
        return False  # liquidation comes first on the way: the stop sits beyond it
    value_open = market[k, Market.VALUE_OPEN]
    trigger = min(trigger, value_open) if qty > 0.0 else max(trigger, value_open)
    side = -1.0 if qty > 0.0 else 1.0
    price = stop_fill_price(side, trigger, k, t, abs(qty), market, params)
    basis_ref = trigger * market[k, Market.OPEN] / market[k, Market.VALUE_OPEN]
    basis_ref = min(max(basis_ref, market[k, Market.LOW]), market[k, Market.HIGH])
    book_fill(i, -qty, price, params[Param.TAKER_FEE], basis_ref, False, fstate, params, report)
    report[Report.STOP_FILLED] = 1.0
    report[Report.FORCED_QTY] += abs(qty)
    report[Report.ORDERS] += forced_exit_orders(abs(qty), price, params, limits)
    return True


@njit(cache=True)
def liquidate_if_breached(
    i: int,
    fstate: npt.NDArray[np.float64],
    market: npt.NDArray[np.float64],
    params: npt.NDArray[np.float64],
    brackets: npt.NDArray[np.float64],
    k: int,
    at_open: bool,
    report: npt.NDArray[np.float64],
) -> bool:
    """Liquidate when the margin balance at bar ``k``'s adverse valuation extreme reaches maintenance.

    ``at_open`` checks the valuation open only (a gap, before any order at that open is placed).
    The position closes at the liquidation price (or the valuation open when the bar gapped through it);
    the liquidation fee on the closed notional is booked, never taking the wallet below zero. Any loss
    beyond the wallet is reported as ``shortfall`` (the insurance fund's) and the wallet ends at zero.
    """
    wallet, qty, entry = fstate[Account.WALLET, i], fstate[Account.QTY, i], fstate[Account.ENTRY, i]
    if qty == 0.0:
        return False
    if at_open:
        adverse = market[k, Market.VALUE_OPEN]
    else:
        adverse = market[k, Market.VALUE_LOW] if qty > 0.0 else market[k, Market.VALUE_HIGH]
    if wallet + qty * (adverse - entry) > maintenance_margin(abs(qty) * adverse, brackets):
        return False
    trigger = liquidation_price(wallet, qty, entry, brackets)
    value_open = market[k, Market.VALUE_OPEN]
    exit_price = min(trigger, value_open) if qty > 0.0 else max(trigger, value_open)
    exit_price = max(exit_price, market[k, Market.VALUE_LOW])
    exit_price = min(exit_price, market[k, Market.VALUE_HIGH])
    wallet += qty * (exit_price - entry)
    fee = min(abs(qty) * exit_price * params[Param.LIQUIDATION_FEE], max(wallet, 0.0))
    wallet -= fee
    if wallet < 0.0:
        report[Report.SHORTFALL] = -wallet
        wallet = 0.0
    report[Report.FEE] += fee
    report[Report.LIQUIDATION_FEE] = fee
    report[Report.FILL_QTY] += -qty
    report[Report.FILL_PRICE] = exit_price
    report[Report.TRADED_NOTIONAL] += abs(qty) * exit_price
    report[Report.LIQUIDATED] = 1.0
    fstate[Account.WALLET, i] = wallet
    fstate[Account.QTY, i] = 0.0
    fstate[Account.ENTRY, i] = 0.0
    return True


@njit(cache=True)
def _book_shortfall(i: int, fstate: npt.NDArray[np.float64], report: npt.NDArray[np.float64]) -> None:
    """A flat account whose exit cost more than its equity ends at zero; the rest is the insurance fund's."""
    if fstate[Account.WALLET, i] < 0.0 and fstate[Account.QTY, i] == 0.0:
        report[Report.SHORTFALL] += -fstate[Account.WALLET, i]
        fstate[Account.WALLET, i] = 0.0


@njit(cache=True)
def _loss_overshoot(equity: float, peak: float, day_start: float, limits: npt.NDArray[np.float64]) -> float:
    """Realised loss beyond the loss limit that is most exceeded, as a fraction of that limit's base."""
    drawdown = (peak - equity) / peak - limits[Limit.MAX_DRAWDOWN] if peak > 0.0 else 0.0
    daily = (day_start - equity) / day_start - limits[Limit.MAX_DAILY_LOSS] if day_start > 0.0 else 0.0
    return max(drawdown, daily)


@njit(cache=True)
def advance_account(
    i: int,
    target_qty: float,
    limit_price: float,
    fstate: npt.NDArray[np.float64],
    istate: npt.NDArray[np.int64],
    market: npt.NDArray[np.float64],
    params: npt.NDArray[np.float64],
    brackets: npt.NDArray[np.float64],
    limits: npt.NDArray[np.float64],
    report: npt.NDArray[np.float64],
) -> None:
    """Move account ``i`` from its decision bar ``t`` to ``t + 1``, trading towards ``target_qty``.

    :param target_qty: wanted signed position, base asset (the gate and the exchange's rules may cut it;
        a non-finite one is refused: no order, ``FLAG_BAD_INPUT``).
    :param limit_price: > 0 for a one-bar limit order at that price, else a market order.
    :param report: float64 row of ``N_REPORT`` slots, overwritten with what happened (``Report``).
    Sets ``Report.TERMINATED`` on liquidation, a loss-limit halt or exhausted equity, ``Report.TRUNCATED``
    when the episode's last bar is reached; either also sets ``istate[Counter.DONE]``.
    """
    for slot in range(report.shape[0]):  # a loop: numba's slice fill costs more for these slots
        report[slot] = 0.0
    t = istate[Counter.BAR, i]
    k = t + 1
    day = np.int64(market[k, Market.DAY])
    if day != istate[Counter.DAY, i]:
        fstate[Account.DAY_START_EQUITY, i] = fstate[Account.EQUITY, i]
        istate[Counter.DAY, i] = day
    flags = 0
    stopped = False
    liquidated = liquidate_if_breached(i, fstate, market, params, brackets, k, True, report)
    if not liquidated:
        flags = _place_order(i, target_qty, limit_price, fstate, market, params, brackets, limits, t, report)
        _book_shortfall(i, fstate, report)
        qty, value_open = fstate[Account.QTY, i], market[k, Market.VALUE_OPEN]
        equity_open = fstate[Account.WALLET, i] + qty * (value_open - fstate[Account.ENTRY, i])
        if qty != 0.0 and equity_open > 0.0:
            report[Report.GATE_LEVERAGE] = abs(qty) * value_open / equity_open
        if not flags & HALT:
            stopped = _stop_inside_bar(i, fstate, market, params, brackets, limits, t, report)
            _book_shortfall(i, fstate, report)
        liquidated = liquidate_if_breached(i, fstate, market, params, brackets, k, False, report)
    if not liquidated and market[k, Market.FUNDING_EVENT] > 0.0:
        payment = funding_payment(
            fstate[Account.QTY, i], market[k, Market.VALUE_CLOSE], market[k, Market.FUNDING_RATE]
        )
        fstate[Account.WALLET, i] += payment
        report[Report.FUNDING] = payment
    value_close = market[k, Market.VALUE_CLOSE]
    equity = fstate[Account.WALLET, i] + fstate[Account.QTY, i] * (value_close - fstate[Account.ENTRY, i])
    peak, day_start = fstate[Account.PEAK_EQUITY, i], fstate[Account.DAY_START_EQUITY, i]
    breach = 0 if liquidated else loss_limit_flags(equity, max(peak, equity), day_start, limits)
    if stopped:  # the stop's own limit, though a fill better than its trigger may leave equity above it
        breach |= loss_stop_flag(peak, day_start, limits)
    halted = (flags & HALT) != 0 or breach != 0 or stopped
    if halted and fstate[Account.QTY, i] != 0.0:  # a breach at the close: flatten at the next open
        last = market.shape[0] - 1
        nxt = min(k + 1, last)
        ref = market[nxt, Market.OPEN] if k < last else market[k, Market.CLOSE]
        qty = fstate[Account.QTY, i]
        fill_market(i, -1.0 if qty > 0.0 else 1.0, abs(qty), ref, market, params, k, fstate, report)
        report[Report.FORCED_QTY] += abs(qty)
        report[Report.ORDERS] += forced_exit_orders(abs(qty), report[Report.FILL_PRICE], params, limits)
        _book_shortfall(i, fstate, report)
        equity = fstate[Account.WALLET, i]
    fstate[Account.PEAK_EQUITY, i] = max(peak, equity)
    if halted:
        istate[Counter.HALTED, i] = 1
        report[Report.LOSS_OVERSHOOT] = _loss_overshoot(equity, peak, day_start, limits)
    flags |= breach
    qty = fstate[Account.QTY, i]
    fstate[Account.EQUITY, i] = equity
    fstate[Account.CUM_FEES, i] += report[Report.FEE]
    fstate[Account.CUM_FUNDING, i] += report[Report.FUNDING]
    fstate[Account.CUM_SLIPPAGE, i] += report[Report.SLIPPAGE]
    istate[Counter.BAR, i] = k
    istate[Counter.STEPS, i] += 1
    if report[Report.FILL_QTY] != 0.0 or report[Report.TRADED_NOTIONAL] > 0.0:
        istate[Counter.BARS_SINCE_TRADE, i] = 0
    else:
        istate[Counter.BARS_SINCE_TRADE, i] += 1
    terminated = liquidated or halted or equity <= 0.0
    truncated = (not terminated) and k >= istate[Counter.END, i]
    if terminated or truncated:
        istate[Counter.DONE, i] = 1
    notional = abs(qty) * value_close
    report[Report.RISK_FLAGS] = flags
    report[Report.EQUITY] = equity
    report[Report.WALLET_BALANCE] = fstate[Account.WALLET, i]
    report[Report.UNREALISED_PNL] = equity - fstate[Account.WALLET, i]
    report[Report.POSITION] = qty
    if equity > 0.0:
        report[Report.MARGIN_RATIO] = maintenance_margin(notional, brackets) / equity
    elif qty != 0.0:
        report[Report.MARGIN_RATIO] = 1.0
    report[Report.TERMINATED] = 1.0 if terminated else 0.0
    report[Report.TRUNCATED] = 1.0 if truncated else 0.0
    report[Report.BAR] = k
    report[Report.TIMESTAMP] = market[k, Market.TIMESTAMP]


@njit(cache=True)
def open_account(
    i: int,
    start_bar: int,
    end_bar: int,
    initial_balance: float,
    fstate: npt.NDArray[np.float64],
    istate: npt.NDArray[np.int64],
    market: npt.NDArray[np.float64],
) -> None:
    """Start account ``i`` flat with ``initial_balance`` USDT at decision bar ``start_bar``.

    Only the account's own rows (``Account``, ``Counter``) are cleared: callers may keep rows of their own
    after them (the envs keep each account's episode-start stream and reward state there), and those must
    survive a new episode, or every episode after the first would start at the same bar.
    """
    for slot in range(N_FLOAT_STATE):
        fstate[slot, i] = 0.0
    for slot in range(N_INT_STATE):
        istate[slot, i] = 0
    for slot in (Account.WALLET, Account.EQUITY, Account.PEAK_EQUITY, Account.DAY_START_EQUITY,
                 Account.INITIAL_EQUITY):  # fmt: skip
        fstate[slot, i] = initial_balance
    istate[Counter.BAR, i] = start_bar
    istate[Counter.START, i] = start_bar
    istate[Counter.END, i] = end_bar
    istate[Counter.DAY, i] = np.int64(market[start_bar, Market.DAY])


def padded_accounts(n_accounts: int) -> int:
    """Columns to allocate for ``n_accounts`` in a ``[field, account]`` array so rows don't alias in cache.

    One account's step touches one cache line in every row of ``fstate``, ``istate`` and ``report``
    (about 50 rows). With a row stride that is a multiple of 4 KiB (``N`` a multiple of 512) all those
    lines fall in one L1 set, and at 32 KiB (``N`` = 4096) in two L2 sets, so they evict each other
    between two neighbouring accounts (measured: about 1.05 -> 0.8 us per serial env-step at N = 4096). An
    odd number of 64-byte lines per row spreads the rows over all sets. Kernels step ``actions.shape[0]``
    accounts, so they ignore the spare columns.
    """
    lines = -(-n_accounts // 8)
    if lines % 2 == 0:
        lines += 1
    return 8 * lines


def new_state(n_accounts: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Zeroed ``(fstate, istate)`` arrays for ``n_accounts`` accounts."""
    return (
        np.zeros((N_FLOAT_STATE, n_accounts), dtype=np.float64),
        np.zeros((N_INT_STATE, n_accounts), dtype=np.int64),
    )
