"""Several symbols under one account and one set of limits.

At every decision the account's equity ``E`` (the sum over its symbols) sizes each symbol's target (a
fraction of the position scale, as for one symbol: ``target x risk.max_leverage x E`` USDT), the
cross-asset limits (``asterrl.risk.portfolio``: per symbol, net, gross, and the volatility of the whole from
the EWMA covariance of the symbols' returns) cut the targets, and the account's loss limits
(``risk.max_drawdown``, ``risk.max_daily_loss``) are checked on ``E``: a breach flattens every symbol at the
next open and stops trading. Each symbol's order then goes through its own instrument's filters, the one
risk gate and the market model (``step_to_target``, ``advance_account``).

The account's margin is held per symbol: before each decision ``E`` is reallocated across the symbols in
proportion to their target notionals, so each symbol's gate sees the account's gross leverage, as on a
cross-margin account. Between decisions each symbol's margin is its own (a symbol is liquidated when its
share is exhausted, even if another is in profit): stricter than exchange cross margin, never looser.
The loss limits are checked on each close (the single-symbol in-bar protective stop has no portfolio
counterpart).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from numba import njit

from asterrl.backtest.engine.kernel import step_to_target
from asterrl.backtest.engine.layout import Fill, Step
from asterrl.backtest.engine.records import fills_of
from asterrl.backtest.engine.rollout import Accounts
from asterrl.backtest.engine.setup import ActionRule, BacktestSetup, span_bars
from asterrl.backtest.result import BacktestResult, Fills
from asterrl.data.market import MarketData
from asterrl.errors import ConfigError, DataError
from asterrl.risk.limits import RiskLimits
from asterrl.risk.portfolio import PortfolioLimits, portfolio_notionals, update_covariance
from asterrl.sim.config import MarketModelConfig
from asterrl.sim.layout import Account, Counter, Market
from asterrl.sim.market_arrays import MarketArrays

FloatArray = npt.NDArray[np.float64]


@njit(cache=True)
def _reallocate(equity: float, notionals: FloatArray, fstate: FloatArray, istate: npt.NDArray[np.int64],
                markets: FloatArray, t: int) -> None:  # fmt: skip
    """Give each symbol's margin its share of ``equity``: the larger of its target ``notionals[j]`` and the
    notional it holds until its order fills at the next open, over their sum (equal shares when all are 0).
    A symbol closing its position keeps the margin of what it holds: by its target alone it would hold the
    position on no equity and be liquidated at the open instead of closing it."""
    n = notionals.shape[0]
    gross = 0.0
    for j in range(n):
        gross += max(abs(notionals[j]), abs(fstate[Account.QTY, j] * markets[j, t, Market.VALUE_CLOSE]))
    for j in range(n):
        held = abs(fstate[Account.QTY, j] * markets[j, t, Market.VALUE_CLOSE])
        share = max(abs(notionals[j]), held) / gross if gross > 0.0 else 1.0 / n
        upnl = fstate[Account.QTY, j] * (markets[j, t, Market.VALUE_CLOSE] - fstate[Account.ENTRY, j])
        fstate[Account.WALLET, j] = equity * share - upnl
        fstate[Account.EQUITY, j] = equity * share
        fstate[Account.PEAK_EQUITY, j] = equity
        fstate[Account.DAY_START_EQUITY, j] = equity
        istate[Counter.DONE, j] = 0


@njit(cache=True)
def run_portfolio(
    actions: FloatArray,
    markets: FloatArray,
    params: FloatArray,
    brackets: FloatArray,
    bracket_rows: npt.NDArray[np.int64],
    limits: FloatArray,
    rule: FloatArray,
    stops: FloatArray,
    atr: FloatArray,
    account: FloatArray,
    cross: FloatArray,
    acc_f: FloatArray,
    acc_i: npt.NDArray[np.int64],
    stop_state: FloatArray,
    report: FloatArray,
    scratch: FloatArray,
    steps: FloatArray,
    fills: FloatArray,
    counts: npt.NDArray[np.int64],
    totals: FloatArray,
    out: FloatArray,
) -> None:
    """Step the symbols (columns of ``actions``) together; ``account`` = [scale, deadband, max drawdown, max
    daily loss, bars per year, drift tolerance]; ``out[row]`` = [equity after, gross, net, cross-asset flags,
    halted]. A position within the deadband is kept only while the whole book stays within the cross-asset
    limits widened by the drift tolerance (as the gate trims one symbol's drift)."""
    n_rows, n = actions.shape
    scale, deadband, max_dd, max_daily, bpy, tolerance = (
        account[0],
        account[1],
        account[2],
        account[3],
        account[4],
        account[5],
    )
    covariance = np.zeros((n, n))
    wanted, allowed, returns, kept, spare = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    start = acc_i[Counter.BAR, 0]
    equity = 0.0
    for j in range(n):
        equity += acc_f[Account.EQUITY, j]
    peak, day_start, day, halted = equity, equity, np.int64(markets[0, start + 1, Market.DAY]), False
    for row in range(n_rows):
        t = start + row
        if t > 0:
            for j in range(n):
                returns[j] = markets[j, t, Market.CLOSE] / markets[j, t - 1, Market.CLOSE] - 1.0
            update_covariance(covariance, returns, cross[4], row == 0)
        next_day = np.int64(markets[0, t + 1, Market.DAY])
        if next_day != day:
            day, day_start = next_day, equity
        peak = max(peak, equity)
        breach = (peak - equity) >= max_dd * peak or (day_start - equity) >= max_daily * day_start
        flags = 0
        for j in range(n):
            wanted[j] = 0.0 if (halted or breach) else actions[row, j] * scale * equity
        flags = portfolio_notionals(wanted, equity, covariance, bpy, cross, allowed)
        if not (halted or breach):  # keep positions within the deadband while the kept book stays in limits
            for j in range(n):
                held = acc_f[Account.QTY, j] * markets[j, t, Market.VALUE_CLOSE]
                kept[j] = held if abs(allowed[j] - held) < deadband * scale * equity else allowed[j]
            if portfolio_notionals(kept, equity * (1.0 + tolerance), covariance, bpy, cross, spare) == 0:
                for j in range(n):
                    allowed[j] = kept[j]
        _reallocate(equity, allowed, acc_f, acc_i, markets, t)
        for j in range(n):
            qty = acc_f[Account.QTY, j]
            held = qty * markets[j, t, Market.VALUE_CLOSE]
            target = qty if allowed[j] == held else allowed[j] / markets[j, t, Market.CLOSE]
            b = brackets[bracket_rows[j] : bracket_rows[j + 1]]
            step_to_target(j, row, target, acc_f, acc_i, stop_state, markets[j], params[j], b, limits[j],
                           rule, stops, atr[j], report, scratch, steps, fills, counts, totals)  # fmt: skip
        halted = halted or breach
        equity, gross, net = 0.0, 0.0, 0.0
        for j in range(n):
            equity += max(acc_f[Account.EQUITY, j], 0.0)
            notional = acc_f[Account.QTY, j] * markets[j, t + 1, Market.VALUE_CLOSE]
            gross += abs(notional)
            net += notional
        out[row, 0], out[row, 1], out[row, 2] = equity, gross, net
        out[row, 3], out[row, 4] = flags, 1.0 if halted else 0.0
        if equity <= 0.0:
            break


@dataclass(frozen=True)
class PortfolioSetup:
    """The symbols of one account on common bars.

    :param legs: one ``BacktestSetup`` per symbol, same bars and span; their loss limits are off (the
        account's apply to the whole).
    :param risk: the account's limits: ``max_leverage`` (the position scale and every symbol's gate),
        ``max_drawdown`` and ``max_daily_loss`` on the account's equity.
    :param cross: the cross-asset limits.
    :param deadband: a symbol's target within this fraction of the scale of its position is not traded.
    """

    legs: tuple[BacktestSetup, ...]
    risk: RiskLimits
    cross: PortfolioLimits
    deadband: float = 0.0

    @classmethod
    def from_markets(
        cls,
        markets: list[MarketData],
        costs: MarketModelConfig | None = None,
        risk: RiskLimits | None = None,
        cross: PortfolioLimits | None = None,
        rule: ActionRule | None = None,
        initial_balance: float = 10_000.0,
        start: str = "",
        end: str = "",
        decision_latency_ms: float = 0.0,
    ) -> PortfolioSetup:
        """Align the symbols on the bars they all have and prepare one leg per symbol."""
        if len(markets) < 2:
            raise ConfigError("a portfolio needs at least two symbols (backtest.symbols)")
        symbols = [m.key.symbol for m in markets]
        if len(set(symbols)) != len(symbols):
            raise ConfigError(f"backtest.symbols lists a symbol twice: {', '.join(symbols)}")
        costs, risk, rule = costs or MarketModelConfig(), risk or RiskLimits(), rule or ActionRule()
        common = markets[0].bars["timestamp"].to_numpy(np.int64)
        for m in markets[1:]:
            common = np.intersect1d(common, m.bars["timestamp"].to_numpy(np.int64))
        if common.size < 3:
            raise DataError(f"{', '.join(symbols)} share fewer than 3 bars: no portfolio to backtest")
        first, last = span_bars(common, start, end)
        leg_risk = dataclasses.replace(risk, max_drawdown=math.inf, max_daily_loss=math.inf)
        legs = []
        for m in markets:
            bars = m.bars[m.bars["timestamp"].isin(common)].reset_index(drop=True)
            arrays = MarketArrays.from_frames(bars, m.funding, m.mark, costs.costs,
                                              decision_latency_ms=decision_latency_ms)  # fmt: skip
            leg = BacktestSetup(m.key.symbol, arrays, m.instrument, costs, leg_risk, rule, initial_balance,
                                first, last)  # fmt: skip
            legs.append(leg)
        return cls(tuple(legs), risk.validate(), (cross or PortfolioLimits()).validate(), rule.deadband)

    @property
    def symbols(self) -> list[str]:
        return [leg.symbol for leg in self.legs]

    @property
    def steps(self) -> int:
        return self.legs[0].steps


@dataclass(frozen=True)
class PortfolioRun:
    """What a portfolio run did: the account's equity, gross and net notional per bar, the cross-asset flags,
    and each symbol's steps and fills."""

    setup: PortfolioSetup
    equity: FloatArray
    gross: FloatArray
    net: FloatArray
    flags: npt.NDArray[np.int64]
    halted_at: int | None
    steps: FloatArray
    fills: FloatArray


def run_portfolio_targets(setup: PortfolioSetup, targets: npt.ArrayLike) -> PortfolioRun:
    """Backtest ``targets`` (``(steps, symbols)``, fractions of the scale) as one account."""
    legs = setup.legs
    first = legs[0]
    actions = np.ascontiguousarray(np.asarray(targets, dtype=np.float64))
    if actions.shape != (setup.steps, len(legs)):
        raise DataError(
            f"portfolio targets must be (steps, symbols) = {setup.steps, len(legs)}, got {actions.shape}"
        )
    first.check_targets(actions)
    markets = np.ascontiguousarray(np.stack([leg.market.values for leg in legs]))
    rows = np.cumsum([0] + [leg.brackets.shape[0] for leg in legs]).astype(np.int64)
    acc = Accounts.open(first, len(legs), True, 4 * setup.steps * len(legs) + 64)
    balance = first.initial_balance / len(legs)
    acc.fstate[[Account.WALLET, Account.EQUITY, Account.PEAK_EQUITY, Account.DAY_START_EQUITY,
                Account.INITIAL_EQUITY], : len(legs)] = balance  # fmt: skip
    r = setup.risk
    account = np.array(
        [r.max_leverage, setup.deadband, r.max_drawdown, r.max_daily_loss, first.bars_per_year]
    )
    out = np.zeros((setup.steps, 5))
    params = np.stack([leg.params for leg in legs])
    brackets = np.ascontiguousarray(np.vstack([leg.brackets for leg in legs]))
    limits, atr = np.stack([leg.limits for leg in legs]), np.stack([leg.atr for leg in legs])
    run_portfolio(actions, markets, params, brackets, rows, limits, first.rule_array, first.stops, atr,
                  account, setup.cross.to_array(), acc.fstate, acc.istate, acc.stop_state, acc.report,
                  acc.scratch, acc.steps, acc.fills, acc.counts, acc.totals, out)  # fmt: skip
    wiped = np.flatnonzero(out[:, 0] <= 0.0)
    stepped = int(wiped[0]) + 1 if wiped.size else setup.steps
    equity = np.concatenate(([first.initial_balance], out[:stepped, 0]))
    halted = np.flatnonzero(out[:, 4] > 0.0)
    flags = out[:stepped, 3].astype(np.int64)
    halted_at = int(halted[0]) if halted.size else None
    gross, net = out[:stepped, 1], out[:stepped, 2]
    return PortfolioRun(setup, equity, gross, net, flags, halted_at, acc.steps[:stepped], acc.fill_rows)


def portfolio_result(run: PortfolioRun, name: str) -> BacktestResult:
    """The account as one ``BacktestResult``: its equity, costs summed over the symbols, ``close`` an
    equal-weight index of the symbols' valuation prices (100 at the start) and ``position`` the net notional
    in units of that index, so exposure and leverage are the account's. Fills are per symbol
    (``symbol_trades``), not in the result."""
    legs, steps = run.setup.legs, run.steps
    points = run.equity.size
    bars = np.arange(legs[0].start_bar, legs[0].start_bar + points)
    prices = np.stack([leg.market.values[bars, Market.VALUE_CLOSE] for leg in legs])
    index = 100.0 * np.exp(np.log(prices / prices[:, :1]).mean(axis=0))
    after = run.equity[1:]
    return BacktestResult(
        name=name,
        symbol="+".join(run.setup.symbols),
        bars_per_year=legs[0].bars_per_year,
        timestamps=legs[0].market.timestamps[bars],
        equity=run.equity,
        close=index,
        position=run.net / index[1:],
        leverage=np.where(after > 0.0, run.gross / np.where(after > 0.0, after, 1.0), 0.0),
        fees=steps[:, :, Step.FEE].sum(axis=1),
        slippage=steps[:, :, Step.SLIPPAGE].sum(axis=1),
        funding=-steps[:, :, Step.FUNDING].sum(axis=1),
        fills=Fills.empty(),
        benchmark=legs[0].initial_balance * (prices / prices[:, :1]).mean(axis=0),
    )


def symbol_attribution(run: PortfolioRun) -> pd.DataFrame:
    """Per symbol: realised P&L net of fees, funding received, fees, slippage, traded notional, fills, closed
    round trips and how many won, final position, USDT."""
    rows = []
    for j, symbol in enumerate(run.setup.symbols):
        f = run.fills[run.fills[:, Fill.ACCOUNT] == j]
        s = run.steps[:, j]
        # a symbol's own equity can be 0 between allocations: its trips are measured on the account's
        decided = (f[:, Fill.BAR].astype(np.int64) - 1 - run.setup.legs[j].start_bar).clip(
            0, run.equity.size - 1
        )
        on_account = f.copy()
        on_account[:, Fill.EQUITY_BEFORE] = run.equity[decided]
        trips = fills_of(on_account).round_trips().pnl
        rows.append({
            "symbol": symbol,
            "realized_pnl": float(f[:, Fill.REALIZED_PNL].sum()),
            "funding": float(s[:, Step.FUNDING].sum()),
            "fees": float(s[:, Step.FEE].sum()),
            "slippage": float(s[:, Step.SLIPPAGE].sum()),
            "traded_notional": float(s[:, Step.TRADED_NOTIONAL].sum()),
            "fills": int(f.shape[0]),
            "round_trips": int(trips.size),
            "round_trips_won": int(np.count_nonzero(trips > 0.0)),
            "final_position": float(s[-1, Step.POSITION]) if s.shape[0] else 0.0,
        })  # fmt: skip
    return pd.DataFrame(rows).set_index("symbol")
