"""Slot indices of the plain arrays the numba kernels share (struct-of-arrays layout).

* ``market[bar, M_*]`` float64: one row per bar (bar-major, so one bar's fields share a cache line or two:
  the batched env reads a different bar for every account), prepared once by ``MarketData``.
* ``fstate[S_*, account]`` float64 and ``istate[I_*, account]`` int64: per-account state, one row per field.
* ``params[P_*]`` float64: the market-model constants (fees, filters, leverage).
* ``report[R_*]`` float64: what one step did to one account (becomes the env's ``info``).

Numba reads module-level integers as compile-time constants, so these cost nothing in the kernels.
"""

from __future__ import annotations

# --- market fields (columns of one bar's row) -------------------------------------------------------
M_TIMESTAMP = 0  # bar open time, ms UTC (exact in float64)
M_OPEN = 1  # last-trade OHLC, USDT
M_HIGH = 2
M_LOW = 3
M_CLOSE = 4
M_VOLUME = 5  # base asset
M_NOTIONAL_VOLUME = 6  # USDT traded in the bar (quote volume, else volume * close)
M_VALUE_OPEN = 7  # valuation price: mark OHLC where mark data exists, else last-trade OHLC
M_VALUE_HIGH = 8
M_VALUE_LOW = 9
M_VALUE_CLOSE = 10
M_FUNDING_RATE = 11  # rate settling at this bar's close (0 where none)
M_FUNDING_EVENT = 12  # 1.0 where a funding settlement falls at this bar's close
M_SIGMA = 13  # rolling std of log returns up to this bar's close (per bar)
M_HALF_SPREAD = 14  # estimated half-spread known at this bar's close, fraction of price
M_DAY = 15  # UTC day number of the bar's open
M_HOURS_TO_FUNDING = 16  # hours from this bar's close to the next settlement
M_LAST_FUNDING_RATE = 17  # most recent settled rate at this bar's close
N_MARKET_FIELDS = 18

# --- market-model parameters -------------------------------------------------------------------------
P_MAKER_FEE = 0
P_TAKER_FEE = 1
P_IMPACT_K = 2
P_PARTICIPATION = 3
P_TICK = 4
P_STEP = 5
P_MIN_NOTIONAL = 6
P_LIQUIDATION_FEE = 7
P_LEVERAGE = 8
P_HALF_SPREAD = 9  # fixed half-spread, fraction of price; < 0 uses the per-bar estimate M_HALF_SPREAD
N_SIM_PARAMS = 10

# --- per-account float state ---------------------------------------------------------------------------
S_WALLET = 0  # wallet balance, USDT (realised PnL, fees and funding booked)
S_QTY = 1  # signed position, base asset
S_ENTRY = 2  # average entry price, USDT (0 when flat)
S_EQUITY = 3  # wallet + unrealised PnL at the last valuation, USDT
S_PEAK_EQUITY = 4
S_DAY_START_EQUITY = 5
S_INITIAL_EQUITY = 6
S_REWARD_A = 7  # differential Sharpe: EMA of returns
S_REWARD_B = 8  # differential Sharpe: EMA of squared returns
S_CUM_FEES = 9
S_CUM_FUNDING = 10
S_CUM_SLIPPAGE = 11
N_FLOAT_STATE = 12

# --- per-account int state -----------------------------------------------------------------------------
I_BAR = 0  # decision bar t (its close has been seen)
I_END = 1  # last bar of the episode
I_START = 2
I_STEPS = 3
I_BARS_SINCE_TRADE = 4
I_DAY = 5
I_DONE = 6  # 1 once the episode has ended (terminated or truncated)
N_INT_STATE = 7

# --- per-step report ---------------------------------------------------------------------------------
R_FEE = 0  # fees paid this step, USDT (>= 0; includes the liquidation fee)
R_FUNDING = 1  # funding received this step, USDT (negative when paid)
R_SLIPPAGE = 2  # slippage cost this step, USDT (>= 0): |qty| * |fill - reference price|
R_FILL_QTY = 3  # signed quantity filled, base asset
R_FILL_PRICE = 4  # fill price, USDT (0 when nothing filled)
R_TRADED_NOTIONAL = 5  # |fill qty| * fill price, USDT
R_REJECTED = 6  # 1 when an order was rejected (min notional, or the gate refused it)
R_PARTIAL = 7  # 1 when the participation cap cut the order
R_LIQUIDATED = 8
R_LIQUIDATION_FEE = 9
R_SHORTFALL = 10  # loss beyond the wallet at a liquidation, USDT (covered by the insurance fund)
R_RISK_FLAGS = 11  # gate flags (asterrl.risk.gate.FLAG_*)
R_GATE_LEVERAGE = 12  # |position| * valuation open / equity after the order at the open (0 flat)
R_EQUITY = 13
R_WALLET = 14
R_UNREALISED_PNL = 15
R_POSITION = 16  # signed position after the step, base asset
R_MARGIN_RATIO = 17  # maintenance margin / equity after the step
R_REWARD = 18
R_TERMINATED = 19
R_TRUNCATED = 20
R_BAR = 21
R_TIMESTAMP = 22  # open time of the bar the step ended on, ms UTC
R_RESET = 23  # 1 when this step only reset the account (vector autoreset, next-step mode)
N_REPORT = 24

REPORT_KEYS: tuple[str, ...] = (
    "fee",
    "funding",
    "slippage",
    "fill_qty",
    "fill_price",
    "traded_notional",
    "rejected",
    "partial_fill",
    "liquidated",
    "liquidation_fee",
    "shortfall",
    "risk_flags",
    "gate_leverage",
    "equity",
    "wallet_balance",
    "unrealised_pnl",
    "position",
    "margin_ratio",
    "reward",
    "terminated",
    "truncated",
    "bar",
    "timestamp",
    "autoreset",
)
assert len(REPORT_KEYS) == N_REPORT
