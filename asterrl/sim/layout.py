"""Slot indices of the plain arrays the numba kernels share (struct-of-arrays layout), declared once.

* ``market[bar, Market.*]`` float64: one row per bar (bar-major, so one bar's fields share a cache line or
  two: the batched env reads a different bar for every account), prepared once by ``MarketArrays``.
* ``fstate[Account.*, account]`` float64 and ``istate[Counter.*, account]`` int64: per-account state, one
  row per field. Callers may keep rows of their own after these (the envs do).
* ``params[Param.*]`` float64: the market-model constants (fees, the instrument's filters).
* ``report[Report.*]`` float64: what one step did to one account (becomes the env's ``info``).

Each class is one ordered list of names numbered 0, 1, 2, ... in declaration order (``Slots``): the slot
numbers, the counts (``len(Report)``) and the step-report keys (``REPORT_KEYS``) all come from it. Numba
reads ``IntEnum`` members of module globals as compile-time integer constants, so they cost nothing.
"""

from __future__ import annotations

from enum import IntEnum, auto
from typing import Any


class Slots(IntEnum):
    """An ``IntEnum`` whose ``auto()`` members are numbered 0, 1, 2, ... in declaration order."""

    @staticmethod
    def _generate_next_value_(name: str, start: int, count: int, last_values: list[Any]) -> int:
        return count


class Market(Slots):
    """Fields of one bar's row."""

    TIMESTAMP = auto()  # bar open time, ms UTC (exact in float64)
    OPEN = auto()  # last-trade OHLC, USDT
    HIGH = auto()
    LOW = auto()
    CLOSE = auto()
    VOLUME = auto()  # base asset traded in the bar (known at its close only)
    NOTIONAL_VOLUME = auto()  # USDT traded in the bar (quote volume, else volume * close)
    VALUE_OPEN = auto()  # valuation price: mark OHLC where mark data exists, else last-trade OHLC
    VALUE_HIGH = auto()
    VALUE_LOW = auto()
    VALUE_CLOSE = auto()
    FUNDING_RATE = auto()  # rate settling at this bar's close (0 where none)
    FUNDING_EVENT = auto()  # 1.0 where a funding settlement falls at this bar's close
    SIGMA = auto()  # std of log returns up to this bar's close (per bar)
    HALF_SPREAD = auto()  # estimated half-spread known at this bar's close, fraction of price
    DAY = auto()  # UTC day number of the bar's open
    HOURS_TO_FUNDING = auto()  # hours from this bar's close to the next settlement
    LAST_FUNDING_RATE = auto()  # most recent settled rate at this bar's close
    KNOWN_VOLUME = auto()  # mean base volume of the bars up to this close (what an order here can know)
    KNOWN_NOTIONAL = auto()  # mean USDT volume of the bars up to this close
    DATA_AGE_MS = auto()  # age of the newest data when an order goes out at this bar's open, ms


class Param(Slots):
    """Market-model constants: the cost settings and the instrument's filters."""

    MAKER_FEE = auto()  # fraction of notional
    TAKER_FEE = auto()
    IMPACT_K = auto()
    PARTICIPATION = auto()  # largest share of the known bar volume a market order takes
    HALF_SPREAD = auto()  # fixed half-spread, fraction of price; < 0 uses the per-bar estimate
    TICK = auto()  # price increment, USDT
    STEP = auto()  # limit-order lot step, base asset
    MARKET_STEP = auto()  # market-order lot step, base asset
    MIN_QTY = auto()  # smallest order quantity, base asset
    MAX_QTY = auto()  # largest limit-order quantity, base asset
    MARKET_MAX_QTY = auto()  # largest market-order quantity, base asset
    MIN_NOTIONAL = auto()  # smallest order notional, USDT (market orders valued at mark)
    MAX_NOTIONAL = auto()  # largest position notional, USDT
    LIQUIDATION_FEE = auto()  # fraction of the liquidated notional
    REDUCE_ONLY_EXITS = auto()  # 1: reducing orders are sent reduce-only (exempt from min notional)
    LIMIT_VOLUME_SHARE = auto()  # largest share of the fill bar's volume a resting limit order takes
    LIMIT_QUEUE_DEPTH = auto()  # trade-through (fraction of the limit price) that fills a whole resting order
    STOP_SLIPPAGE = auto()  # 1: in-bar loss stops pay half-spread and impact like a market order


class Account(Slots):
    """Per-account float state."""

    WALLET = auto()  # wallet balance, USDT (realised PnL, fees and funding booked)
    QTY = auto()  # signed position, base asset
    ENTRY = auto()  # average entry price, USDT (0 when flat)
    EQUITY = auto()  # wallet + unrealised PnL at the last valuation, USDT
    PEAK_EQUITY = auto()
    DAY_START_EQUITY = auto()
    INITIAL_EQUITY = auto()
    CUM_FEES = auto()
    CUM_FUNDING = auto()
    CUM_SLIPPAGE = auto()


class Counter(Slots):
    """Per-account int state."""

    BAR = auto()  # decision bar t (its close has been seen)
    END = auto()  # last bar of the episode
    START = auto()
    STEPS = auto()
    BARS_SINCE_TRADE = auto()
    DAY = auto()
    DONE = auto()  # 1 once the episode has ended (terminated or truncated)
    HALTED = auto()  # 1 once a loss limit halted the account


class Report(Slots):
    """What one step did to one account; the lower-case names are the env's ``info`` keys."""

    FEE = auto()  # fees paid this step, USDT (>= 0; includes the liquidation fee)
    FUNDING = auto()  # funding received this step, USDT (negative when paid)
    SLIPPAGE = auto()  # slippage cost this step, USDT (>= 0): |qty| * |fill - reference price|
    FILL_QTY = auto()  # signed quantity filled, base asset
    FILL_PRICE = auto()  # price of the last fill, USDT (0 when nothing filled)
    TRADED_NOTIONAL = auto()  # |fill qty| * fill price, USDT
    MAKER_QTY = auto()  # part of the fill that rested as a maker order, base asset (unsigned)
    FORCED_QTY = auto()  # part of the fill forced by the risk rules (trim, halt, stop), base asset (unsigned)
    REJECTED = auto()  # 1 when an order was rejected (filters, or the gate refused it)
    PARTIAL_FILL = auto()  # 1 when part of the order did not fill (volume caps, limit not reached)
    LIQUIDATED = auto()
    LIQUIDATION_FEE = auto()
    SHORTFALL = auto()  # loss beyond the wallet at a liquidation, USDT (covered by the insurance fund)
    RISK_FLAGS = auto()  # gate flags (asterrl.risk.gate.FLAG_*)
    GATE_LEVERAGE = auto()  # |position| * valuation open / equity after the order at the open (0 flat)
    ORDERS = auto()  # orders sent this step (a forced exit beyond the order cap goes out as several)
    STOP_FILLED = auto()  # 1 when the in-bar loss stop closed the position
    LOSS_OVERSHOOT = auto()  # after a halt: realised loss beyond the limit that fired, fraction of its base
    EQUITY = auto()
    WALLET_BALANCE = auto()
    UNREALISED_PNL = auto()
    POSITION = auto()  # signed position after the step, base asset
    MARGIN_RATIO = auto()  # maintenance margin / equity after the step
    REWARD = auto()
    TERMINATED = auto()
    TRUNCATED = auto()
    BAR = auto()
    TIMESTAMP = auto()  # open time of the bar the step ended on, ms UTC
    AUTORESET = auto()  # 1 when this step only reset the account (vector autoreset, next-step mode)


N_MARKET_FIELDS = len(Market)
N_SIM_PARAMS = len(Param)
N_FLOAT_STATE = len(Account)
N_INT_STATE = len(Counter)
N_REPORT = len(Report)
#: The env's ``info`` keys, in slot order.
REPORT_KEYS: tuple[str, ...] = tuple(member.name.lower() for member in Report)


def report_dict_source(name: str) -> str:
    """Source of ``def name(v): return {key: value, ...}`` over ``REPORT_KEYS``, for ``exec``.

    A dict display with the keys written out is the fastest way CPython builds a dict of known keys (the
    single env builds one every step); generating it from ``REPORT_KEYS`` keeps the one list of names.
    """
    items = ", ".join(f"{key!r}: v[{slot}]" for slot, key in enumerate(REPORT_KEYS))
    return f"def {name}(v):\n    return {{{items}}}\n"
