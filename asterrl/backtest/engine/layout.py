"""Slots of the backtester's plain arrays, declared once (the pattern of ``asterrl.sim.layout``).

* ``rule[Rule.*]`` float64: how an action becomes a target position (the env's action rule) and the start.
* ``steps[row, account, Step.*]`` float64: what each bar did to each account (optional for a grid).
* ``fills[n, Fill.*]`` float64: one row per fill, in the order the kernel met them.
* ``totals[account, Total.*]`` float64: per-account sums over the run (always filled).
"""

from __future__ import annotations

from enum import auto

from asterrl.sim.layout import Slots


class Rule(Slots):
    """The action rule and the account's start (``ActionRule`` and ``BacktestSetup``)."""

    DISCRETE = auto()  # 1: an action indexes the levels; 0: the action is the level
    POSITION_SCALE = auto()  # leverage an action of 1.0 targets (risk.max_leverage)
    DEADBAND = auto()  # fraction of the scale within which the position is kept
    MIN_HOLD = auto()  # bars a position is held before the policy may trade again
    LIMIT_ORDERS = auto()  # 1: one-bar limit orders at the decision close offset by LIMIT_OFFSET
    LIMIT_OFFSET = auto()  # fraction of price, in the trader's favour
    INITIAL_BALANCE = auto()  # USDT
    STOPS = auto()  # 1: a stop of the risk limits is on (asterrl.risk.stops), 0: the stops are skipped


class Step(Slots):
    """One bar of one account."""

    EQUITY = auto()  # after the bar, USDT
    POSITION = auto()  # signed, after the bar, base asset
    VALUE_CLOSE = auto()  # valuation price the equity is marked at, USDT
    FEE = auto()  # USDT (liquidation fee included)
    SLIPPAGE = auto()  # USDT
    FUNDING = auto()  # received, USDT (negative: paid)
    TRADED_NOTIONAL = auto()  # USDT
    WANTED = auto()  # target position the policy's action asked for, base asset (NaN: refused)
    RISK_FLAGS = auto()  # the gate's flags (asterrl.risk.gate.FLAG_*)
    STOP_REASON = auto()  # asterrl.risk.stops.StopReason of this decision
    EVENT = auto()  # Event: what ended the run on this bar, if anything


class Event(Slots):
    """What ended an account's run on a bar (``Step.EVENT``)."""

    NONE = auto()
    HALTED = auto()  # a loss limit fired: flattened, no more trading
    LIQUIDATED = auto()
    WIPED_OUT = auto()  # equity reached 0


class Fill(Slots):
    """One fill (a bar can hold two: the order at the open, then a stop, liquidation or halt exit)."""

    ACCOUNT = auto()  # column of the account (the parameter set of a grid)
    BAR = auto()  # bar whose open (or inside which) it filled
    TIMESTAMP = auto()  # ms UTC: that bar's open (the next bar's open for a halt's flatten at the close)
    QUANTITY = auto()  # signed, base asset
    PRICE = auto()  # average price, slippage included, USDT
    FEE = auto()  # USDT
    SLIPPAGE = auto()  # USDT
    REALIZED_PNL = auto()  # wallet change of the fill: closed * (price - entry) - fee, USDT
    EQUITY_BEFORE = auto()  # equity at the decision close before it, USDT
    KIND = auto()  # FillKind


class FillKind(Slots):
    """What sent a fill."""

    ORDER = auto()  # the order towards the policy's target (or a stop's exit, see Step.STOP_REASON)
    LOSS_STOP = auto()  # the loss limits' in-bar protective stop
    LIQUIDATION = auto()
    HALT_EXIT = auto()  # the flatten after a loss limit was breached at the close


class Total(Slots):
    """Per-account sums over a run."""

    FINAL_EQUITY = auto()
    FEES = auto()
    SLIPPAGE = auto()
    FUNDING = auto()
    TRADED_NOTIONAL = auto()
    FILLS = auto()
    BARS_IN_MARKET = auto()
    LAST_STEP = auto()  # rows stepped before the run ended (all of them unless halted or wiped out)
    EVENT = auto()  # Event that ended the run, if any


N_RULE = len(Rule)
N_STEP = len(Step)
N_FILL = len(Fill)
N_TOTAL = len(Total)
STEP_KEYS: tuple[str, ...] = tuple(member.name.lower() for member in Step)
FILL_KINDS: tuple[str, ...] = tuple(member.name.lower() for member in FillKind)
EVENTS: tuple[str, ...] = tuple(member.name.lower() for member in Event)
