"""The series a report draws, derived once from a :class:`BacktestResult` and shared by the PNG figures and
the HTML page: equity and benchmark (multiples of the initial), underwater curve, rolling Sharpe, monthly
returns, exposure and leverage, cumulative costs, fills on the price.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from asterrl.backtest.result import BacktestResult
from asterrl.backtest.stats import pathwise
from asterrl.errors import DataError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def minmax_thin(x: npt.ArrayLike, ys: list[FloatArray], max_points: int) -> tuple[IntArray, list[FloatArray]]:
    """Thin series sharing ``x`` to at most ``max_points`` points for display: the span is cut into
    ``max_points / 2`` buckets and each series keeps its minimum and maximum in each bucket, in the order
    they occur, at the bucket's first and last ``x`` (so spikes and drawdowns stay visible). NaNs are
    ignored; an all-NaN bucket stays NaN."""
    xa = np.asarray(x)
    n = xa.size
    if n <= max_points:
        return xa, [np.asarray(y, dtype=np.float64) for y in ys]
    buckets = max(1, max_points // 2)
    size = math.ceil(n / buckets)
    buckets = math.ceil(n / size)
    starts = np.arange(buckets) * size
    ends = np.minimum(starts + size, n) - 1
    x_out = np.column_stack([xa[starts], xa[ends]]).ravel()
    out = []
    for y in ys:
        padded = np.full(buckets * size, np.nan)
        padded[:n] = np.asarray(y, dtype=np.float64)
        grid = padded.reshape(buckets, size)
        empty = np.all(np.isnan(grid), axis=1)
        i_min = np.argmin(np.where(np.isnan(grid), np.inf, grid), axis=1)
        i_max = np.argmax(np.where(np.isnan(grid), -np.inf, grid), axis=1)
        rows = np.arange(buckets)
        lo, hi = grid[rows, i_min], grid[rows, i_max]
        first = np.where(i_min <= i_max, lo, hi)
        second = np.where(i_min <= i_max, hi, lo)
        pair = np.column_stack([first, second])
        pair[empty] = np.nan
        out.append(pair.ravel())
    return x_out, out


def rolling_sharpe(returns: npt.ArrayLike, window: int, bars_per_year: float) -> FloatArray:
    """Annualised Sharpe of the trailing ``window`` returns at each bar (sample std; NaN before a full
    window, 0 where the window does not vary), from running sums in O(n)."""
    r = np.asarray(returns, dtype=np.float64)
    if window < 2:
        raise DataError(f"the rolling Sharpe window must be >= 2 bars, got {window}")
    out = np.full(r.size, np.nan)
    if r.size < window:
        return out
    c1 = np.concatenate([[0.0], np.cumsum(r)])
    c2 = np.concatenate([[0.0], np.cumsum(r * r)])
    s1 = c1[window:] - c1[:-window]
    s2 = c2[window:] - c2[:-window]
    mean = s1 / window
    var = np.maximum(s2 - window * mean * mean, 0.0) / (window - 1)
    sd = np.sqrt(var)
    ok = sd > 1e-12 * np.maximum(np.abs(mean), 1e-300)
    out[window - 1 :] = np.where(ok, mean / np.where(ok, sd, 1.0), 0.0) * math.sqrt(bars_per_year)
    return out


def monthly_returns(timestamps_ms: npt.ArrayLike, equity: npt.ArrayLike) -> pd.DataFrame:
    """Compounded return of each calendar month (UTC), years in rows and months 1..12 in columns (NaN
    where the backtest did not run): the last equity of a month over the last equity before it."""
    ts = pd.to_datetime(np.asarray(timestamps_ms, dtype=np.int64), unit="ms", utc=True)
    eq = pd.Series(np.asarray(equity, dtype=np.float64), index=ts)
    month_end = eq.groupby([ts.year, ts.month]).last()
    previous = month_end.shift(1)
    previous.iloc[0] = eq.iloc[0]
    ret = month_end / previous - 1.0
    table = ret.unstack(level=1).reindex(columns=range(1, 13))
    table.index.name, table.columns.name = "year", "month"
    return table


@dataclass(frozen=True)
class ReportSeries:
    """Everything the report draws; point series have ``T + 1`` values at ``time_ms``, step series ``T``
    values at ``time_ms[1:]``."""

    time_ms: IntArray
    equity: FloatArray
    benchmark: FloatArray | None
    drawdown: FloatArray
    rolling_sharpe: FloatArray
    rolling_window: int
    exposure: FloatArray
    leverage: FloatArray
    cumulative_costs: dict[str, FloatArray]
    close: FloatArray
    buy_time_ms: IntArray
    buy_price: FloatArray
    sell_time_ms: IntArray
    sell_price: FloatArray
    monthly: pd.DataFrame


def default_rolling_window(bars_per_year: float, steps: int) -> int:
    """About 30 days of bars, at least 2 and at most half the backtest."""
    return int(max(2, min(round(bars_per_year * 30.0 / 365.0), max(steps // 2, 2))))


def report_series(result: BacktestResult, rolling_window: int | None = None) -> ReportSeries:
    """The report's series of ``result`` (``rolling_window`` bars for the rolling Sharpe, default about
    30 days)."""
    window = (
        default_rolling_window(result.bars_per_year, result.steps)
        if rolling_window is None
        else rolling_window
    )
    rs = rolling_sharpe(result.returns(), window, result.bars_per_year)
    f = result.fills
    buys, sells = f.quantity > 0.0, f.quantity < 0.0
    return ReportSeries(
        time_ms=result.timestamps,
        equity=result.equity / result.equity[0],
        benchmark=None if result.benchmark is None else result.benchmark / result.benchmark[0],
        drawdown=pathwise.underwater(result.equity),
        rolling_sharpe=np.concatenate([[np.nan], rs]),
        rolling_window=window,
        exposure=result.exposure(),
        leverage=result.leverage,
        cumulative_costs={
            name: np.concatenate([[0.0], np.cumsum(getattr(result, name))])
            for name in ("fees", "slippage", "funding")
        },
        close=result.close,
        buy_time_ms=f.timestamp[buys],
        buy_price=f.price[buys],
        sell_time_ms=f.timestamp[sells],
        sell_price=f.price[sells],
        monthly=monthly_returns(result.timestamps, result.equity),
    )
