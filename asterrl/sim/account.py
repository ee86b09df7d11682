"""One account through one bar: the order at the open, liquidation, funding, valuation and loss limits.

``advance_account`` is the single implementation of the bar step. The environment (single and batched),
the backtester and the paper/local simulators call it; state lives in the struct-of-arrays ``fstate`` /
``istate`` (see ``asterrl.sim.layout``), so one account is one column.

Timing: the account's decision bar is ``t = istate[I_BAR]`` (its close has been seen). A position already
beyond maintenance at bar ``k = t + 1``'s open (a gap) is liquidated there first. Else the order fills at
``k``'s open; the spread and volatility used for slippage are those known at ``t``'s close, the
volume is bar ``k``'s. Then, over bar ``k``: liquidation against the adverse extreme of the valuation price,
funding settling at ``k``'s close, valuation at ``k``'s close, and the loss limits. A loss-limit breach
flattens the position at the next bar's open (or ``k``'s close on the last bar) and ends the episode.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

from asterrl.risk.gate import (
    HALT,
    REJECTED,
    gate_target,
    leverage_capped_qty,
    loss_limit_flags,
    trimmed_position,
)
from asterrl.sim import layout as L
from asterrl.sim.kernels import (
    apply_fill,
    bracket_max_leverage,
    is_reduce_only,
    liquidation_price,
    maintenance_margin,
    market_fill_price,
    round_qty_toward_zero,
)


@njit(cache=True)
def _half_spread(market: npt.NDArray[np.float64], params: npt.NDArray[np.float64], bar: int) -> float:
    """Half-spread for an order decided at ``bar``'s close: the fixed setting, else the bar's estimate."""
    fixed = params[L.P_HALF_SPREAD]
    return fixed if fixed >= 0.0 else market[bar, L.M_HALF_SPREAD]


@njit(cache=True)
def _flatten_at(
    i: int,
    fstate: npt.NDArray[np.float64],
    market: npt.NDArray[np.float64],
    params: npt.NDArray[np.float64],
    cost_bar: int,
    price_bar: int,
    use_open: bool,
    report: npt.NDArray[np.float64],
) -> None:
    """Close the whole position with a market order (no participation cap: an emergency exit)."""
    qty = fstate[L.S_QTY, i]
    if qty == 0.0:
        return
    ref = market[price_bar, L.M_OPEN] if use_open else market[price_bar, L.M_CLOSE]
    side = -1.0 if qty > 0.0 else 1.0
    price = market_fill_price(
        side,
        ref,
        _half_spread(market, params, cost_bar),
        params[L.P_IMPACT_K],
        market[cost_bar, L.M_SIGMA],
        abs(qty) * ref,
        market[price_bar, L.M_NOTIONAL_VOLUME],
        params[L.P_TICK],
    )
    fee = abs(qty) * price * params[L.P_TAKER_FEE]
    wallet, new_qty, entry = apply_fill(
        fstate[L.S_WALLET, i], qty, fstate[L.S_ENTRY, i], -qty, price, fee, params[L.P_STEP]
    )
    fstate[L.S_WALLET, i] = wallet
    fstate[L.S_QTY, i] = new_qty
    fstate[L.S_ENTRY, i] = entry
    report[L.R_FEE] += fee
    report[L.R_SLIPPAGE] += abs(qty) * abs(price - ref)
    report[L.R_FILL_QTY] += -qty
    report[L.R_FILL_PRICE] = price
    report[L.R_TRADED_NOTIONAL] += abs(qty) * price


@njit(cache=True)
def _margin_capped(
    qty: float,
    allowed: float,
    value_open: float,
    equity_open: float,
    unit_cost: float,
    params: npt.NDArray[np.float64],
    brackets: npt.NDArray[np.float64],
) -> float:
    """``allowed`` cut to the account's margin leverage (setting and bracket), then to the lot step."""
    margin_leverage = min(params[L.P_LEVERAGE], bracket_max_leverage(abs(allowed) * value_open, brackets))
    allowed = leverage_capped_qty(qty, allowed, value_open, equity_open, unit_cost, margin_leverage)
    return round_qty_toward_zero(allowed, params[L.P_STEP])


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
    """Gate, filter and fill the order moving the position towards ``target_qty`` at bar ``t + 1``.

    ``limit_price`` <= 0 sends a market order (taker fee, half-spread and impact). A positive one sends a
    limit order living for one bar: marketable at the open it fills like a market order capped at the
    limit; otherwise it fills at the limit, with the maker fee, only if the bar trades through it.

    A hold (``target_qty`` equal to the position) sends no order. The forced part of an order, which brings
    a position the market pushed beyond the risk or margin limits back within them, always fills, at
    market: neither the participation cap, the minimum notional nor an unfilled limit price holds it
    back, so after any order leverage is within the limits. Returns the gate's flags.
    """
    k = t + 1
    wallet, qty, entry = fstate[L.S_WALLET, i], fstate[L.S_QTY, i], fstate[L.S_ENTRY, i]
    ref = market[k, L.M_OPEN]
    value_open = market[k, L.M_VALUE_OPEN]
    equity_open = wallet + qty * (value_open - entry)
    if target_qty == qty:
        # A hold: the gate only checks the loss limits (no cost estimate needed) unless one fires.
        peak, day_start = fstate[L.S_PEAK_EQUITY, i], fstate[L.S_DAY_START_EQUITY, i]
        if loss_limit_flags(equity_open, peak, day_start, limits) == 0:
            return 0
    step, tick, impact_k = params[L.P_STEP], params[L.P_TICK], params[L.P_IMPACT_K]
    half_spread, sigma = _half_spread(market, params, t), market[t, L.M_SIGMA]
    bar_notional = market[k, L.M_NOTIONAL_VOLUME]
    # Cost per unit traded that the gate counts: the worse of a buy and a sell, sized for the larger of the
    # wanted order and the whole position (a trim can be that large), so its caps hold after any fill.
    est_notional = max(abs(target_qty - qty), abs(qty)) * ref
    buy = market_fill_price(1.0, ref, half_spread, impact_k, sigma, est_notional, bar_notional, tick)
    sell = market_fill_price(-1.0, ref, half_spread, impact_k, sigma, est_notional, bar_notional, tick)
    taker = params[L.P_TAKER_FEE]
    unit_cost = max(taker * buy + abs(buy - value_open), taker * sell + abs(sell - value_open))
    allowed, flags = gate_target(
        qty,
        target_qty,
        value_open,
        equity_open,
        unit_cost,
        fstate[L.S_PEAK_EQUITY, i],
        fstate[L.S_DAY_START_EQUITY, i],
        0.0,
        0.0,
        0.0,
        limits,
    )
    if flags & REJECTED:
        report[L.R_REJECTED] = 1.0
        return flags
    if allowed == qty:
        return flags
    allowed = _margin_capped(qty, allowed, value_open, equity_open, unit_cost, params, brackets)
    order = round((allowed - qty) / step) * step
    if order == 0.0:
        return flags
    forced = 0.0  # the part of a reducing order that brings a position beyond the limits back within them
    if order * qty < 0.0 and not flags & HALT:
        keep = trimmed_position(qty, value_open, equity_open, unit_cost, limits)
        keep = _margin_capped(qty, keep, value_open, equity_open, unit_cost, params, brackets)
        forced = min(round(abs(qty - keep) / step) * step, abs(order))
    size = abs(order)
    if not is_reduce_only(qty, allowed) and size * ref < params[L.P_MIN_NOTIONAL]:
        report[L.R_REJECTED] = 1.0
        if forced == 0.0:
            return flags
        order = -math.copysign(forced, qty)  # the trim alone is reduce-only, exempt from min notional
        size = forced
    if not flags & HALT:
        room = round_qty_toward_zero(params[L.P_PARTICIPATION] * market[k, L.M_VOLUME], step)
        if room < size:
            size = max(room, forced)
            report[L.R_PARTIAL] = 1.0 if size < abs(order) else 0.0
    if size <= 0.0:
        return flags
    side = 1.0 if order > 0.0 else -1.0
    fee_rate = taker
    price = market_fill_price(side, ref, half_spread, impact_k, sigma, size * ref, bar_notional, tick)
    slipped = True
    if limit_price > 0.0 and forced == 0.0:
        marketable = ref <= limit_price if side > 0.0 else ref >= limit_price
        if marketable:
            price = min(price, limit_price) if side > 0.0 else max(price, limit_price)
        else:
            crossed = market[k, L.M_LOW] < limit_price if side > 0.0 else market[k, L.M_HIGH] > limit_price
            if not crossed:
                return flags
            price, fee_rate, slipped = limit_price, params[L.P_MAKER_FEE], False
    fill_qty = side * size
    fee = size * price * fee_rate
    wallet, qty, entry = apply_fill(wallet, qty, entry, fill_qty, price, fee, step)
    fstate[L.S_WALLET, i] = wallet
    fstate[L.S_QTY, i] = qty
    fstate[L.S_ENTRY, i] = entry
    report[L.R_FEE] += fee
    if slipped:
        report[L.R_SLIPPAGE] += size * abs(price - ref)
    report[L.R_FILL_QTY] += fill_qty
    report[L.R_FILL_PRICE] = price
    report[L.R_TRADED_NOTIONAL] += size * price
    return flags


@njit(cache=True)
def _liquidate_if_breached(
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
    wallet, qty, entry = fstate[L.S_WALLET, i], fstate[L.S_QTY, i], fstate[L.S_ENTRY, i]
    if qty == 0.0:
        return False
    if at_open:
        adverse = market[k, L.M_VALUE_OPEN]
    else:
        adverse = market[k, L.M_VALUE_LOW] if qty > 0.0 else market[k, L.M_VALUE_HIGH]
    if wallet + qty * (adverse - entry) > maintenance_margin(abs(qty) * adverse, brackets):
        return False
    trigger = liquidation_price(wallet, qty, entry, brackets)
    value_open = market[k, L.M_VALUE_OPEN]
    exit_price = min(trigger, value_open) if qty > 0.0 else max(trigger, value_open)
    exit_price = max(exit_price, market[k, L.M_VALUE_LOW])
    exit_price = min(exit_price, market[k, L.M_VALUE_HIGH])
    wallet += qty * (exit_price - entry)
    fee = min(abs(qty) * exit_price * params[L.P_LIQUIDATION_FEE], max(wallet, 0.0))
    wallet -= fee
    if wallet < 0.0:
        report[L.R_SHORTFALL] = -wallet
        wallet = 0.0
    report[L.R_FEE] += fee
    report[L.R_LIQUIDATION_FEE] = fee
    report[L.R_FILL_QTY] += -qty
    report[L.R_FILL_PRICE] = exit_price
    report[L.R_TRADED_NOTIONAL] += abs(qty) * exit_price
    report[L.R_LIQUIDATED] = 1.0
    fstate[L.S_WALLET, i] = wallet
    fstate[L.S_QTY, i] = 0.0
    fstate[L.S_ENTRY, i] = 0.0
    return True


@njit(cache=True)
def _book_shortfall(i: int, fstate: npt.NDArray[np.float64], report: npt.NDArray[np.float64]) -> None:
    """A flat account whose exit cost more than its equity ends at zero; the rest is the insurance fund's."""
    if fstate[L.S_WALLET, i] < 0.0 and fstate[L.S_QTY, i] == 0.0:
        report[L.R_SHORTFALL] += -fstate[L.S_WALLET, i]
        fstate[L.S_WALLET, i] = 0.0


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

    :param target_qty: wanted signed position, base asset (the gate and margin may cut it).
    :param limit_price: > 0 for a one-bar limit order at that price, else a market order.
    :param report: float64 row of ``N_REPORT`` slots, overwritten with what happened (``R_*``).
    Sets ``R_TERMINATED`` on liquidation, a loss-limit breach or exhausted equity, ``R_TRUNCATED`` when
    the episode's last bar is reached; either also sets ``istate[I_DONE]``.
    """
    for slot in range(report.shape[0]):  # a loop: numba's slice fill costs more for these 24 slots
        report[slot] = 0.0
    t = istate[L.I_BAR, i]
    k = t + 1
    day = np.int64(market[k, L.M_DAY])
    if day != istate[L.I_DAY, i]:
        fstate[L.S_DAY_START_EQUITY, i] = fstate[L.S_EQUITY, i]
        istate[L.I_DAY, i] = day
    flags = 0
    liquidated = _liquidate_if_breached(i, fstate, market, params, brackets, k, True, report)
    if not liquidated:
        flags = _place_order(i, target_qty, limit_price, fstate, market, params, brackets, limits, t, report)
        _book_shortfall(i, fstate, report)
        qty, value_open = fstate[L.S_QTY, i], market[k, L.M_VALUE_OPEN]
        equity_open = fstate[L.S_WALLET, i] + qty * (value_open - fstate[L.S_ENTRY, i])
        if qty != 0.0 and equity_open > 0.0:
            report[L.R_GATE_LEVERAGE] = abs(qty) * value_open / equity_open
        liquidated = _liquidate_if_breached(i, fstate, market, params, brackets, k, False, report)
    if not liquidated and market[k, L.M_FUNDING_EVENT] > 0.0:
        payment = -fstate[L.S_QTY, i] * market[k, L.M_VALUE_CLOSE] * market[k, L.M_FUNDING_RATE]
        fstate[L.S_WALLET, i] += payment
        report[L.R_FUNDING] = payment
    value_close = market[k, L.M_VALUE_CLOSE]
    equity = fstate[L.S_WALLET, i] + fstate[L.S_QTY, i] * (value_close - fstate[L.S_ENTRY, i])
    fstate[L.S_PEAK_EQUITY, i] = max(fstate[L.S_PEAK_EQUITY, i], equity)
    breach = (
        0
        if liquidated
        else loss_limit_flags(equity, fstate[L.S_PEAK_EQUITY, i], fstate[L.S_DAY_START_EQUITY, i], limits)
    )
    halted = (flags & HALT) != 0 or breach != 0
    if halted and fstate[L.S_QTY, i] != 0.0:
        last = market.shape[0] - 1
        _flatten_at(i, fstate, market, params, k, min(k + 1, last), k < last, report)
        _book_shortfall(i, fstate, report)
        equity = fstate[L.S_WALLET, i]
    flags |= breach
    qty = fstate[L.S_QTY, i]
    fstate[L.S_EQUITY, i] = equity
    fstate[L.S_CUM_FEES, i] += report[L.R_FEE]
    fstate[L.S_CUM_FUNDING, i] += report[L.R_FUNDING]
    fstate[L.S_CUM_SLIPPAGE, i] += report[L.R_SLIPPAGE]
    istate[L.I_BAR, i] = k
    istate[L.I_STEPS, i] += 1
    if report[L.R_FILL_QTY] != 0.0 or report[L.R_TRADED_NOTIONAL] > 0.0:
        istate[L.I_BARS_SINCE_TRADE, i] = 0
    else:
        istate[L.I_BARS_SINCE_TRADE, i] += 1
    terminated = liquidated or halted or equity <= 0.0
    truncated = (not terminated) and k >= istate[L.I_END, i]
    if terminated or truncated:
        istate[L.I_DONE, i] = 1
    notional = abs(qty) * value_close
    report[L.R_RISK_FLAGS] = flags
    report[L.R_EQUITY] = equity
    report[L.R_WALLET] = fstate[L.S_WALLET, i]
    report[L.R_UNREALISED_PNL] = equity - fstate[L.S_WALLET, i]
    report[L.R_POSITION] = qty
    if equity > 0.0:
        report[L.R_MARGIN_RATIO] = maintenance_margin(notional, brackets) / equity
    elif qty != 0.0:
        report[L.R_MARGIN_RATIO] = 1.0
    report[L.R_TERMINATED] = 1.0 if terminated else 0.0
    report[L.R_TRUNCATED] = 1.0 if truncated else 0.0
    report[L.R_BAR] = k
    report[L.R_TIMESTAMP] = market[k, L.M_TIMESTAMP]


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

    Only the account's own rows (``S_*``, ``I_*``) are cleared: callers may keep rows of their own after
    them (the envs keep each account's episode-start stream in the int row after ``N_INT_STATE``), and
    those must survive a new episode, or every episode after the first would start at the same bar.
    """
    for slot in range(L.N_FLOAT_STATE):
        fstate[slot, i] = 0.0
    for slot in range(L.N_INT_STATE):
        istate[slot, i] = 0
    for slot in (L.S_WALLET, L.S_EQUITY, L.S_PEAK_EQUITY, L.S_DAY_START_EQUITY, L.S_INITIAL_EQUITY):
        fstate[slot, i] = initial_balance
    istate[L.I_BAR, i] = start_bar
    istate[L.I_START, i] = start_bar
    istate[L.I_END, i] = end_bar
    istate[L.I_DAY, i] = np.int64(market[start_bar, L.M_DAY])


def padded_accounts(n_accounts: int) -> int:
    """Columns to allocate for ``n_accounts`` in a ``[field, account]`` array so rows don't alias in cache.

    One account's step touches one cache line in every row of ``fstate``, ``istate`` and ``report``
    (about 45 rows). With a row stride that is a multiple of 4 KiB (``N`` a multiple of 512) all those
    lines fall in one L1 set, and at 32 KiB (``N`` = 4096) in two L2 sets, so they evict each other
    between two neighbouring accounts (measured: about 1.05 -> 0.8 us per serial env-step at N = 4096). An odd
    number of 64-byte lines per row spreads the rows over all sets. Kernels step ``actions.shape[0]``
    accounts, so they ignore the spare columns.
    """
    lines = -(-n_accounts // 8)
    if lines % 2 == 0:
        lines += 1
    return 8 * lines


def new_state(n_accounts: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Zeroed ``(fstate, istate)`` arrays for ``n_accounts`` accounts."""
    return (
        np.zeros((L.N_FLOAT_STATE, n_accounts), dtype=np.float64),
        np.zeros((L.N_INT_STATE, n_accounts), dtype=np.int64),
    )
