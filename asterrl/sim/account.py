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

from asterrl.risk.gate import HALT, REJECTED, gate_target, leverage_capped_qty, loss_limit_flags
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
    return fixed if fixed >= 0.0 else market[L.M_HALF_SPREAD, bar]


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
    ref = market[L.M_OPEN, price_bar] if use_open else market[L.M_CLOSE, price_bar]
    side = -1.0 if qty > 0.0 else 1.0
    price = market_fill_price(
        side,
        ref,
        _half_spread(market, params, cost_bar),
        params[L.P_IMPACT_K],
        market[L.M_SIGMA, cost_bar],
        abs(qty) * ref,
        market[L.M_NOTIONAL_VOLUME, price_bar],
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
    Returns the gate's flags.
    """
    k = t + 1
    wallet, qty, entry = fstate[L.S_WALLET, i], fstate[L.S_QTY, i], fstate[L.S_ENTRY, i]
    ref = market[L.M_OPEN, k]
    value_open = market[L.M_VALUE_OPEN, k]
    equity_open = wallet + qty * (value_open - entry)
    step, tick = params[L.P_STEP], params[L.P_TICK]
    half_spread, sigma = _half_spread(market, params, t), market[L.M_SIGMA, t]
    bar_notional = market[L.M_NOTIONAL_VOLUME, k]
    side = 1.0 if target_qty > qty else -1.0
    est_price = market_fill_price(
        side, ref, half_spread, params[L.P_IMPACT_K], sigma, abs(target_qty - qty) * ref, bar_notional, tick
    )
    unit_cost = params[L.P_TAKER_FEE] * est_price + abs(est_price - value_open)
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
    margin_leverage = min(params[L.P_LEVERAGE], bracket_max_leverage(abs(allowed) * value_open, brackets))
    allowed = leverage_capped_qty(qty, allowed, value_open, equity_open, unit_cost, margin_leverage)
    allowed = round_qty_toward_zero(allowed, step)
    order = round((allowed - qty) / step) * step
    if order == 0.0:
        return flags
    reduce_only = is_reduce_only(qty, allowed)
    if not reduce_only and abs(order) * ref < params[L.P_MIN_NOTIONAL]:
        report[L.R_REJECTED] = 1.0
        return flags
    size = abs(order)
    if not flags & HALT:
        room = round_qty_toward_zero(params[L.P_PARTICIPATION] * market[L.M_VOLUME, k], step)
        if room < size:
            size = room
            report[L.R_PARTIAL] = 1.0
    if size <= 0.0:
        return flags
    fee_rate = params[L.P_TAKER_FEE]
    price = market_fill_price(
        side, ref, half_spread, params[L.P_IMPACT_K], sigma, size * ref, bar_notional, tick
    )
    slipped = True
    if limit_price > 0.0:
        marketable = ref <= limit_price if side > 0.0 else ref >= limit_price
        if marketable:
            price = min(price, limit_price) if side > 0.0 else max(price, limit_price)
        else:
            crossed = market[L.M_LOW, k] < limit_price if side > 0.0 else market[L.M_HIGH, k] > limit_price
            if not crossed:
                return flags
            price, fee_rate, slipped = limit_price, params[L.P_MAKER_FEE], False
    fill_qty = math.copysign(size, order)
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
    equity_after = wallet + qty * (value_open - entry)
    if equity_after > 0.0:
        report[L.R_GATE_LEVERAGE] = abs(qty) * value_open / equity_after
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
        adverse = market[L.M_VALUE_OPEN, k]
    else:
        adverse = market[L.M_VALUE_LOW, k] if qty > 0.0 else market[L.M_VALUE_HIGH, k]
    if wallet + qty * (adverse - entry) > maintenance_margin(abs(qty) * adverse, brackets):
        return False
    trigger = liquidation_price(wallet, qty, entry, brackets)
    value_open = market[L.M_VALUE_OPEN, k]
    exit_price = min(trigger, value_open) if qty > 0.0 else max(trigger, value_open)
    exit_price = max(exit_price, market[L.M_VALUE_LOW, k])
    exit_price = min(exit_price, market[L.M_VALUE_HIGH, k])
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
    report[:] = 0.0
    t = istate[L.I_BAR, i]
    k = t + 1
    day = np.int64(market[L.M_DAY, k])
    if day != istate[L.I_DAY, i]:
        fstate[L.S_DAY_START_EQUITY, i] = fstate[L.S_EQUITY, i]
        istate[L.I_DAY, i] = day
    flags = 0
    liquidated = _liquidate_if_breached(i, fstate, market, params, brackets, k, True, report)
    if not liquidated:
        flags = _place_order(i, target_qty, limit_price, fstate, market, params, brackets, limits, t, report)
        liquidated = _liquidate_if_breached(i, fstate, market, params, brackets, k, False, report)
    if not liquidated and market[L.M_FUNDING_EVENT, k] > 0.0:
        payment = -fstate[L.S_QTY, i] * market[L.M_VALUE_CLOSE, k] * market[L.M_FUNDING_RATE, k]
        fstate[L.S_WALLET, i] += payment
        report[L.R_FUNDING] = payment
    value_close = market[L.M_VALUE_CLOSE, k]
    equity = fstate[L.S_WALLET, i] + fstate[L.S_QTY, i] * (value_close - fstate[L.S_ENTRY, i])
    fstate[L.S_PEAK_EQUITY, i] = max(fstate[L.S_PEAK_EQUITY, i], equity)
    breach = (
        0
        if liquidated
        else loss_limit_flags(equity, fstate[L.S_PEAK_EQUITY, i], fstate[L.S_DAY_START_EQUITY, i], limits)
    )
    halted = (flags & HALT) != 0 or breach != 0
    if halted and fstate[L.S_QTY, i] != 0.0:
        last = market.shape[1] - 1
        _flatten_at(i, fstate, market, params, k, min(k + 1, last), k < last, report)
        if fstate[L.S_WALLET, i] < 0.0:
            report[L.R_SHORTFALL] += -fstate[L.S_WALLET, i]
            fstate[L.S_WALLET, i] = 0.0
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
    report[L.R_TIMESTAMP] = market[L.M_TIMESTAMP, k]


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
    """Start account ``i`` flat with ``initial_balance`` USDT at decision bar ``start_bar``."""
    fstate[:, i] = 0.0
    istate[:, i] = 0
    for slot in (L.S_WALLET, L.S_EQUITY, L.S_PEAK_EQUITY, L.S_DAY_START_EQUITY, L.S_INITIAL_EQUITY):
        fstate[slot, i] = initial_balance
    istate[L.I_BAR, i] = start_bar
    istate[L.I_START, i] = start_bar
    istate[L.I_END, i] = end_bar
    istate[L.I_DAY, i] = np.int64(market[L.M_DAY, start_bar])


def new_state(n_accounts: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Zeroed ``(fstate, istate)`` arrays for ``n_accounts`` accounts."""
    return (
        np.zeros((L.N_FLOAT_STATE, n_accounts), dtype=np.float64),
        np.zeros((L.N_INT_STATE, n_accounts), dtype=np.int64),
    )
