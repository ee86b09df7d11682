"""The backtester's numba step: a policy's action through the env's action rule, the stops, the risk gate and
the market model, for one account and one bar, with what it did recorded.

``step_account`` is the one step. It turns the action into a target with ``asterrl.actions.target_position``
(the env's action rule); ``step_to_target`` applies the stops (``asterrl.risk.stops``), sends the order of the
env (a market order, or a one-bar limit order at the decision close), and moves the account with
``asterrl.sim.account.advance_account``, the same function the environments step. A portfolio sizes its
symbols itself and calls ``step_to_target`` for each. The step-by-step path
(``asterrl.backtest.engine.rollout``, a policy deciding in Python on every bar) calls it once per bar;
``run_rows`` calls it for many accounts (one per parameter set) in one pass over the bars.

A bar holds at most two fills: the order at the open, and then an in-bar loss stop, a liquidation, or the
flatten after a loss limit was breached at the close. ``advance_account`` reports their sum; when a bar has
such an exit, the order at the open is replayed on a scratch copy of the account (the same functions
``advance_account`` calls, on the same state) to split the two exactly.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

from asterrl.actions import target_position
from asterrl.backtest.engine.layout import Event, Fill, FillKind, Rule, Step, Total
from asterrl.risk.gate import HALT
from asterrl.risk.stops import stopped_target, update_stop_state
from asterrl.sim.account import (
    _book_shortfall,
    _place_order,
    advance_account,
    liquidate_if_breached,
)
from asterrl.sim.layout import N_FLOAT_STATE, Account, Counter, Market, Report

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
#: ``FillKind`` and ``Event`` values as plain ints (numba stores them in float arrays).
_ORDER, _LOSS_STOP, _LIQUIDATION, _HALT_EXIT = (int(kind) for kind in FillKind)
_NO_EVENT, _HALTED, _LIQUIDATED, _WIPED_OUT = (int(event) for event in Event)


@njit(cache=True)
def _keep_pre_state(i: int, s: int, fstate: FloatArray, istate: IntArray) -> None:
    """Copy account ``i``'s rows into the scratch column ``s`` (the state before the step)."""
    for row in range(N_FLOAT_STATE):
        fstate[row, s] = fstate[row, i]
    istate[Counter.DAY, s] = istate[Counter.DAY, i]


@njit(cache=True)
def _replay_open(
    s: int,
    target: float,
    limit_price: float,
    t: int,
    fstate: FloatArray,
    istate: IntArray,
    market: FloatArray,
    params: FloatArray,
    brackets: FloatArray,
    limits: FloatArray,
    scratch: FloatArray,
) -> int:
    """Replay the open of bar ``t + 1`` on scratch column ``s`` as ``advance_account`` began it: the day's
    reset, a gap liquidation, else the order. Returns -1 after a liquidation at the open, else the gate's
    flags of the order."""
    for slot in range(scratch.shape[0]):
        scratch[slot] = 0.0
    k = t + 1
    day = np.int64(market[k, Market.DAY])
    if day != istate[Counter.DAY, s]:
        fstate[Account.DAY_START_EQUITY, s] = fstate[Account.EQUITY, s]
    if liquidate_if_breached(s, fstate, market, params, brackets, k, True, scratch):
        return -1
    flags = _place_order(s, target, limit_price, fstate, market, params, brackets, limits, t, scratch)
    _book_shortfall(s, fstate, scratch)
    return flags


@njit(cache=True)
def _write_fill(
    fills: FloatArray,
    counts: IntArray,
    i: int,
    bar: int,
    market: FloatArray,
    qty: float,
    notional: float,
    fee: float,
    slippage: float,
    realized: float,
    equity_before: float,
    kind: int,
) -> None:
    """Append one fill row (counted even when the buffer is full, so the caller can size a rerun)."""
    if qty == 0.0:
        return
    n = counts[0]
    counts[0] = n + 1
    if n >= fills.shape[0]:
        return
    bar = min(bar, market.shape[0] - 1)
    fills[n, Fill.ACCOUNT] = i
    fills[n, Fill.BAR] = bar
    fills[n, Fill.TIMESTAMP] = market[bar, Market.TIMESTAMP]
    fills[n, Fill.QUANTITY] = qty
    fills[n, Fill.PRICE] = notional / abs(qty)
    fills[n, Fill.FEE] = fee
    fills[n, Fill.SLIPPAGE] = slippage
    fills[n, Fill.REALIZED_PNL] = realized
    fills[n, Fill.EQUITY_BEFORE] = equity_before
    fills[n, Fill.KIND] = kind


@njit(cache=True)
def _record_fills(
    i: int,
    s: int,
    t: int,
    target: float,
    limit_price: float,
    wallet_before: float,
    equity_before: float,
    newly_halted: bool,
    fstate: FloatArray,
    istate: IntArray,
    market: FloatArray,
    params: FloatArray,
    brackets: FloatArray,
    limits: FloatArray,
    report: FloatArray,
    scratch: FloatArray,
    fills: FloatArray,
    counts: IntArray,
) -> int:
    """Record the bar's fills of account ``i``; return how many there were."""
    notional = report[Report.TRADED_NOTIONAL]
    if notional <= 0.0:
        return 0
    k = t + 1
    qty, fee, slip = report[Report.FILL_QTY], report[Report.FEE], report[Report.SLIPPAGE]
    realized = fstate[Account.WALLET, i] - report[Report.SHORTFALL] - wallet_before - report[Report.FUNDING]
    exit_kind = _ORDER
    if report[Report.STOP_FILLED] > 0.0:
        exit_kind = _LOSS_STOP
    elif report[Report.LIQUIDATED] > 0.0:
        exit_kind = _LIQUIDATION
    elif newly_halted:
        exit_kind = _HALT_EXIT
    if exit_kind == _ORDER:
        _write_fill(fills, counts, i, k, market, qty, notional, fee, slip, realized, equity_before, exit_kind)
        return 1
    flags = _replay_open(s, target, limit_price, t, fstate, istate, market, params, brackets, limits, scratch)
    first = scratch[Report.TRADED_NOTIONAL]
    if flags < 0 or first == notional:  # one fill: a gap liquidation, or the order at the open was all
        kind = _LIQUIDATION if flags < 0 else _ORDER
        if flags > 0 and flags & HALT:
            kind = _HALT_EXIT  # the gate flattened at the open
        _write_fill(fills, counts, i, k, market, qty, notional, fee, slip, realized, equity_before, kind)
        return 1
    exit_bar = k + 1 if exit_kind == _HALT_EXIT else k
    if first <= 0.0:  # nothing filled at the open: the exit alone
        _write_fill(fills, counts, i, exit_bar, market, qty, notional, fee, slip, realized, equity_before,
                    exit_kind)  # fmt: skip
        return 1
    first_qty, first_fee, first_slip = scratch[Report.FILL_QTY], scratch[Report.FEE], scratch[Report.SLIPPAGE]
    first_realized = fstate[Account.WALLET, s] - scratch[Report.SHORTFALL] - wallet_before
    _write_fill(fills, counts, i, k, market, first_qty, first, first_fee, first_slip, first_realized,
                equity_before, _ORDER)  # fmt: skip
    _write_fill(fills, counts, i, exit_bar, market, qty - first_qty, notional - first, fee - first_fee,
                slip - first_slip, realized - first_realized, equity_before, exit_kind)  # fmt: skip
    return 2


@njit(cache=True, inline="always")
def step_to_target(
    i: int,
    row: int,
    wanted: float,
    fstate: FloatArray,
    istate: IntArray,
    stop_state: FloatArray,
    market: FloatArray,
    params: FloatArray,
    brackets: FloatArray,
    limits: FloatArray,
    rule: FloatArray,
    stops: FloatArray,
    atr: FloatArray,
    report: FloatArray,
    scratch: FloatArray,
    steps: FloatArray,
    fills: FloatArray,
    counts: IntArray,
    totals: FloatArray,
) -> None:
    """Account ``i`` (row ``row`` of the run) wants position ``wanted`` (base asset) at its bar ``t``: the
    stops, the order (market, or the env's one-bar limit), ``advance_account`` to ``t + 1``, the records.

    ``fstate``/``istate`` hold one spare last column, the scratch copy of the account before the step.
    ``steps`` is ``(rows, accounts, N_STEP)`` or empty (not recorded); ``fills`` is ``(capacity, N_FILL)``
    with ``counts[0]`` the fills met so far; ``totals[i]`` accumulates the account's sums.
    """
    s = fstate.shape[1] - 1
    _keep_pre_state(i, s, fstate, istate)
    t = istate[Counter.BAR, i]
    qty, wallet, equity = fstate[Account.QTY, i], fstate[Account.WALLET, i], fstate[Account.EQUITY, i]
    close = market[t, Market.CLOSE]
    target, reason = wanted, 0
    if rule[Rule.STOPS] > 0.0:
        target, reason = stopped_target(wanted, qty, fstate[Account.ENTRY, i], close, t, stop_state, i, stops)
    limit_price = 0.0
    if rule[Rule.LIMIT_ORDERS] > 0.0 and target != qty and math.isfinite(target):
        side = 1.0 if target > qty else -1.0
        limit_price = close * (1.0 - side * rule[Rule.LIMIT_OFFSET])
    halted_before = istate[Counter.HALTED, i] != 0
    advance_account(i, target, limit_price, fstate, istate, market, params, brackets, limits, report)
    k = t + 1
    qty_after = fstate[Account.QTY, i]
    if qty_after != qty:
        update_stop_state(qty, qty_after, fstate[Account.ENTRY, i], k, atr[t], stop_state, i)
    newly_halted = istate[Counter.HALTED, i] != 0 and not halted_before
    n_fills = 0
    if report[Report.TRADED_NOTIONAL] > 0.0:
        n_fills = _record_fills(i, s, t, target, limit_price, wallet, equity, newly_halted, fstate, istate,
                                market, params, brackets, limits, report, scratch, fills, counts)  # fmt: skip
    equity_after = fstate[Account.EQUITY, i]
    event = _NO_EVENT
    if report[Report.LIQUIDATED] > 0.0:
        event = _LIQUIDATED
    elif newly_halted:
        event = _HALTED
    elif equity_after <= 0.0 < equity:
        event = _WIPED_OUT
    if steps.shape[0] > 0:
        out = steps[row, i]
        out[Step.EQUITY] = equity_after
        out[Step.POSITION] = qty_after
        out[Step.VALUE_CLOSE] = market[k, Market.VALUE_CLOSE]
        out[Step.FEE] = report[Report.FEE]
        out[Step.SLIPPAGE] = report[Report.SLIPPAGE]
        out[Step.FUNDING] = report[Report.FUNDING]
        out[Step.TRADED_NOTIONAL] = report[Report.TRADED_NOTIONAL]
        out[Step.WANTED] = wanted
        out[Step.RISK_FLAGS] = report[Report.RISK_FLAGS]
        out[Step.STOP_REASON] = reason
        out[Step.EVENT] = event
    total = totals[i]
    total[Total.FINAL_EQUITY] = equity_after
    total[Total.FEES] += report[Report.FEE]
    total[Total.SLIPPAGE] += report[Report.SLIPPAGE]
    total[Total.FUNDING] += report[Report.FUNDING]
    total[Total.TRADED_NOTIONAL] += report[Report.TRADED_NOTIONAL]
    total[Total.FILLS] += n_fills
    total[Total.BARS_IN_MARKET] += 1.0 if qty_after != 0.0 else 0.0
    total[Total.LAST_STEP] = row + 1
    total[Total.EVENT] = event


@njit(cache=True, inline="always")
def step_account(
    i: int,
    row: int,
    action: float,
    fstate: FloatArray,
    istate: IntArray,
    stop_state: FloatArray,
    market: FloatArray,
    params: FloatArray,
    brackets: FloatArray,
    limits: FloatArray,
    rule: FloatArray,
    levels: FloatArray,
    stops: FloatArray,
    atr: FloatArray,
    report: FloatArray,
    scratch: FloatArray,
    steps: FloatArray,
    fills: FloatArray,
    counts: IntArray,
    totals: FloatArray,
) -> None:
    """Account ``i`` decides ``action`` at its bar ``t``: the env's action rule gives the wanted position
    (``asterrl.actions.target_position``), then ``step_to_target``."""
    t = istate[Counter.BAR, i]
    wanted = target_position(
        action, fstate[Account.QTY, i], fstate[Account.EQUITY, i], market[t, Market.VALUE_CLOSE],
        market[t, Market.CLOSE], istate[Counter.BARS_SINCE_TRADE, i], rule[Rule.DISCRETE] > 0.0, levels,
        rule[Rule.POSITION_SCALE], rule[Rule.DEADBAND], int(rule[Rule.MIN_HOLD]),
    )  # fmt: skip
    step_to_target(i, row, wanted, fstate, istate, stop_state, market, params, brackets, limits, rule, stops,
                   atr, report, scratch, steps, fills, counts, totals)  # fmt: skip


@njit(cache=True)
def run_rows(
    actions: FloatArray,
    fstate: FloatArray,
    istate: IntArray,
    stop_state: FloatArray,
    market: FloatArray,
    params: FloatArray,
    brackets: FloatArray,
    limits: FloatArray,
    rule: FloatArray,
    levels: FloatArray,
    stops: FloatArray,
    atr: FloatArray,
    report: FloatArray,
    scratch: FloatArray,
    steps: FloatArray,
    fills: FloatArray,
    counts: IntArray,
    totals: FloatArray,
    equity: FloatArray,
) -> None:
    """Step every account over every row: ``actions[row, i]`` is account ``i``'s action at its ``row``-th
    decision. Bars are the outer loop (one bar's market row serves every account). An account whose run
    ended (a halt, a liquidation, equity gone) stays flat at its last equity. ``equity`` is ``(rows + 1,
    accounts)`` (or empty): the equity before the first row, then after each."""
    n_rows, n_accounts = actions.shape
    record = equity.shape[0] > 0
    for row in range(n_rows):
        for i in range(n_accounts):
            if istate[Counter.DONE, i] == 0:
                step_account(i, row, actions[row, i], fstate, istate, stop_state, market, params, brackets,
                             limits, rule, levels, stops, atr, report, scratch, steps, fills, counts,
                             totals)  # fmt: skip
            if record:
                equity[row + 1, i] = fstate[Account.EQUITY, i]
