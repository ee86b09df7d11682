"""Backtest speed: asterrl's backtester against vectorbt's ``Portfolio.from_signals`` and backtesting.py on
the same SMA crossover over 1,000,000 bars with the same taker fee, all measured in one run and one process.

The data is the project's synthetic BTCUSDT perpetual in 1-minute bars (with funding and mark prices), so
asterrl carries what the peers do not: funding at each settlement, half-spread and square-root impact
slippage, margin tiers and liquidation, the risk gate (leverage, drawdown, daily loss) and the exchange's
tick, lot and minimum-notional filters. The peers get the close and the fee (0.035 % a side) only. All run
long-only at 1x: enter when the 60-bar SMA (an hour) crosses above the 240-bar one, exit when it crosses
below. (A 10/50 cross on minute bars churns ~14,000 round trips, whose fees alone take 99.99 % of the
account: asterrl's drawdown limit halts it half-way, which would time a shorter run than the peers'.)

The peers are the ``bench`` extra of pyproject.toml (``pip install -e '.[bench]'``); a missing one is
reported, not fatal:

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/backtest.py [--bars 1000000] [--repeats 3]

Each figure is the best of ``--repeats`` timed calls after a warm-up call (numba compiled and cached), except
backtesting.py's, one call (it steps in Python), and the grid's, best of ``--grid-repeats``. The grid runs
``--grid-sets`` (fast, slow) SMA settings over ``--grid-bars`` hourly bars: asterrl in one ``run_targets``
call, vectorbt with one column per setting in one ``from_signals`` call.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

os.environ.setdefault("TQDM_DISABLE", "1")  # backtesting.py's progress bar
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.rules.kernels import crossover_targets  # noqa: E402
from asterrl.backtest.engine import ActionRule, BacktestSetup, Total, backtest_targets, run_targets  # noqa: E402
from asterrl.data.config import DataConfig, SourceName  # noqa: E402
from asterrl.data.market import MarketData, load_market  # noqa: E402
from asterrl.features.kernels.rolling import sma  # noqa: E402
from asterrl.risk.limits import RiskLimits  # noqa: E402
from asterrl.sim.config import CostConfig, MarketModelConfig  # noqa: E402

FEE = 0.00035
FAST, SLOW = 60, 240
CASH = 10_000.0
#: 1x long-only, loss limits loose enough not to stop the benchmark strategy.
RISK = RiskLimits(max_leverage=1.0, max_drawdown=0.99, max_daily_loss=0.99)
COSTS = MarketModelConfig(CostConfig(taker_fee=FEE))


def best_of(repeats: int, fn: Callable[[], Any]) -> float:
    """Shortest of ``repeats`` timed calls after one warm-up call, seconds."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def synthetic(interval: str, bars: int) -> MarketData:
    """``bars`` bars of the synthetic BTCUSDT perpetual from 2020-01-01, with funding and mark."""
    step = {"1m": 60_000, "1h": 3_600_000}[interval]
    start = 1_577_836_800_000
    end = start + (bars + 1) * step
    day = lambda ms: time.strftime("%Y-%m-%dT%H:%M", time.gmtime(ms / 1000))  # noqa: E731
    cfg = DataConfig(source=SourceName.SYNTHETIC, interval=interval, start=day(start), end=day(end))
    market = load_market(cfg.validate(), seed=0, show_progress=False)
    market.bars = market.bars.iloc[:bars].reset_index(drop=True)
    return market


def ours(market: MarketData, repeats: int) -> dict[str, Any]:
    """asterrl on one SMA series: signals, the simulation with its fills (what ``from_signals`` gives),
    with the equity series too, and with every record (``backtest_targets``, the CLI's path)."""
    close = market.bars["close"].to_numpy(np.float64)
    out: dict[str, Any] = {}
    start = time.perf_counter()
    setup = BacktestSetup.from_market(market, COSTS, RISK, ActionRule(deadband=0.05))
    out["prepare s"] = time.perf_counter() - start

    def signal() -> np.ndarray:
        return crossover_targets(sma(close, FAST), sma(close, SLOW), 1.0, False)

    targets = signal()[setup.start_bar : setup.end_bar]
    out["signals s"] = best_of(repeats, signal)
    out["simulate, fills s"] = best_of(
        repeats, lambda: run_targets(setup, targets, record_equity=False, record_fills=True)
    )
    out["simulate, fills + equity s"] = best_of(
        repeats, lambda: run_targets(setup, targets, record_equity=True, record_fills=True)
    )
    out["simulate + all records s"] = best_of(repeats, lambda: backtest_targets(setup, targets, "sma_cross"))
    result, run = backtest_targets(setup, targets, "sma_cross")
    out["bars stepped"] = f"{int(run.totals[0, Total.LAST_STEP]):,} of {setup.steps:,}"
    out["round trips"] = int(result.fills.round_trips().pnl.size)
    out["net return"] = float(result.equity[-1] / result.equity[0] - 1.0)
    out["fees paid"] = float(result.fees.sum())
    out["slippage paid"] = float(result.slippage.sum())
    out["funding paid"] = float(result.funding.sum())
    return out


def grid_settings(n: int) -> np.ndarray:
    """``n`` (fast, slow) pairs with fast < slow."""
    pairs = [(f, s) for f in range(2, 200) for s in range(f + 5, 400, 5)]
    picked = np.linspace(0, len(pairs) - 1, n).astype(int)
    return np.asarray([pairs[i] for i in picked], dtype=np.int64)


def ours_grid(market: MarketData, settings: np.ndarray, repeats: int) -> dict[str, Any]:
    """asterrl on ``settings``: every setting's signal, then one ``run_targets`` call for them all."""
    close = market.bars["close"].to_numpy(np.float64)
    setup = BacktestSetup.from_market(market, COSTS, RISK, ActionRule(deadband=0.05))

    def signals() -> np.ndarray:
        lines = {w: sma(close, int(w)) for w in np.unique(settings)}
        out = np.empty((close.size, len(settings)))
        for j, (f, s) in enumerate(settings):
            out[:, j] = crossover_targets(lines[f], lines[s], 1.0, False)
        return out

    matrix = signals()[setup.start_bar : setup.end_bar]
    whole = run_targets(setup, matrix, record_equity=False).totals[:, Total.LAST_STEP] == setup.steps
    return {
        "grid signals s": best_of(repeats, signals),
        "grid simulate s": best_of(repeats, lambda: run_targets(setup, matrix, record_equity=True)),
        "grid settings run to the end": f"{int(whole.sum())} of {len(settings)}",
    }


def vectorbt_figures(
    close: np.ndarray, settings: np.ndarray, grid_close: np.ndarray, repeats: int, grid_repeats: int
) -> dict[str, Any]:
    """vectorbt's MA crossover signals and ``Portfolio.from_signals`` on the same series and grid."""
    try:
        import vectorbt as vbt
    except ImportError as error:
        return {"vectorbt error": f"{error} (install the bench extra)"}
    out: dict[str, Any] = {"vectorbt version": vbt.__version__}
    series = pd.Series(close)

    def signals() -> tuple[Any, Any]:
        fast, slow = vbt.MA.run(series, FAST), vbt.MA.run(series, SLOW)
        return fast.ma_crossed_above(slow), fast.ma_crossed_below(slow)

    entries, exits = signals()

    def simulate() -> Any:
        return vbt.Portfolio.from_signals(series, entries, exits, fees=FEE, init_cash=CASH, freq="1min")

    out["vectorbt signals s"] = best_of(repeats, signals)
    out["vectorbt from_signals s"] = best_of(repeats, simulate)
    portfolio = simulate()
    out["vectorbt from_signals + equity s"] = best_of(repeats, lambda: simulate().value())
    out["vectorbt round trips"] = int(portfolio.trades.count())
    out["vectorbt net return"] = float(portfolio.total_return())
    grid = pd.Series(grid_close)

    def grid_signals() -> tuple[Any, Any]:
        fast = vbt.MA.run(grid, [int(x) for x in settings[:, 0]])
        slow = vbt.MA.run(grid, [int(x) for x in settings[:, 1]])
        return fast.ma_crossed_above(slow.ma.values), fast.ma_crossed_below(slow.ma.values)

    grid_entries, grid_exits = grid_signals()
    out["vectorbt grid signals s"] = best_of(grid_repeats, grid_signals)
    out["vectorbt grid from_signals s"] = best_of(
        grid_repeats,
        lambda: vbt.Portfolio.from_signals(
            grid, grid_entries, grid_exits, fees=FEE, init_cash=CASH, freq="1h"
        ),
    )
    return out


def backtesting_py_figures(close: np.ndarray, bars: int) -> dict[str, Any]:
    """backtesting.py's SMA crossover (its documented example) on the first ``bars`` closes, one call."""
    try:
        import backtesting
        from backtesting import Backtest, Strategy
        from backtesting.lib import crossover
    except ImportError as error:
        return {"backtesting.py error": f"{error} (install the bench extra)"}
    n = min(bars, close.size)
    frame = pd.DataFrame(
        {"Open": close[:n], "High": close[:n], "Low": close[:n], "Close": close[:n], "Volume": 1.0},
        index=pd.date_range("2020-01-01", periods=n, freq="1min"),
    )

    def rolling_mean(x: np.ndarray, window: int) -> np.ndarray:
        return pd.Series(x).rolling(window).mean().to_numpy()

    class SmaCross(Strategy):  # type: ignore[misc]
        def init(self) -> None:
            self.fast = self.I(rolling_mean, self.data.Close, FAST)
            self.slow = self.I(rolling_mean, self.data.Close, SLOW)

        def next(self) -> None:
            if crossover(self.fast, self.slow):
                self.buy()
            elif crossover(self.slow, self.fast):
                self.position.close()

    # cash far above the price so each buy is whole units at 1x, as backtesting.py needs
    test = Backtest(frame, SmaCross, cash=1e9, commission=FEE, exclusive_orders=True, finalize_trades=True)
    start = time.perf_counter()
    stats = test.run()
    return {
        "backtesting.py version": backtesting.__version__,
        "backtesting.py bars": n,
        "backtesting.py run s": time.perf_counter() - start,
        "backtesting.py round trips": int(stats["# Trades"]),
    }


def show(key: str, value: Any) -> None:
    print(f"{key:<44}{value:>14,.4f}" if isinstance(value, float) else f"{key:<44}{value!s:>14}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--grid-bars", type=int, default=26_280, help="hourly bars of the grid (3 years)")
    parser.add_argument("--grid-sets", type=int, default=1000)
    parser.add_argument("--grid-repeats", type=int, default=1, help="timed grid calls after the warm-up")
    parser.add_argument("--backtesting-bars", type=int, default=1_000_000, help="bars for backtesting.py")
    args = parser.parse_args()
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    market = synthetic("1m", args.bars)
    grid_market = synthetic("1h", args.grid_bars)
    settings = grid_settings(args.grid_sets)
    close = market.bars["close"].to_numpy(np.float64)
    grid_close = grid_market.bars["close"].to_numpy(np.float64)
    print(
        f"data: synthetic BTCUSDT perp, {len(market.bars):,} 1m bars (funding, mark); grid: {len(settings)} "
        f"SMA settings on {len(grid_market.bars):,} 1h bars; best of {args.repeats}"
    )
    mine = ours(market, args.repeats)
    mine.update(ours_grid(grid_market, settings, args.grid_repeats))
    for key, value in mine.items():
        show(f"asterrl {key}", value)
    theirs = vectorbt_figures(close, settings, grid_close, args.repeats, args.grid_repeats)
    theirs.update(backtesting_py_figures(close, args.backtesting_bars))
    for key, value in theirs.items():
        show(key, value)
    if "vectorbt from_signals s" in theirs:
        for label, ours_key, vbt_key in (
            ("simulation (fills / order records)", "simulate, fills s", "vectorbt from_signals s"),
            ("simulation + equity series", "simulate, fills + equity s", "vectorbt from_signals + equity s"),
            ("signals", "signals s", "vectorbt signals s"),
            ("grid simulation", "grid simulate s", "vectorbt grid from_signals s"),
        ):
            print(f"{label}: asterrl / vectorbt = {mine[ours_key] / theirs[vbt_key]:.2f}")
    print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
