"""Trading metrics of an equity curve or an episode, the same for every agent, backtest and live run.

Per-bar returns are simple equity returns ``equity[t] / equity[t-1] - 1``; ratios are annualised with the
number of bars in a 365-day year at the data's bar interval (crypto trades around the clock). The bar
interval of a series comes from ``asterrl.data.schema.bar_interval_ms`` and nowhere else.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

from asterrl.data.schema import YEAR_MS, bar_interval_ms
from asterrl.errors import DataError

FloatArray = npt.NDArray[np.float64]


def bars_per_year(interval_ms: float) -> float:
    """Bars in a 365-day year at a bar interval of ``interval_ms`` milliseconds."""
    if not interval_ms > 0.0:
        raise DataError("the bar interval must be > 0 ms")
    return YEAR_MS / interval_ms


def bars_per_year_of(timestamps: npt.ArrayLike) -> float:
    """Bars in a 365-day year at the bar interval of a series of bar open times (ms UTC)."""
    return bars_per_year(bar_interval_ms(timestamps))


def simple_returns(equity: FloatArray) -> FloatArray:
    """Per-bar simple returns of an equity curve (one fewer than the points)."""
    e = np.asarray(equity, dtype=np.float64)
    if e.ndim != 1 or e.size < 1 or not np.all(e[:-1] > 0.0):
        raise DataError("equity must be a 1-D curve of positive values (the last may be 0 after a wipe-out)")
    return e[1:] / e[:-1] - 1.0


def sharpe_ratio(returns: FloatArray, periods_per_year: float) -> float:
    """Annualised Sharpe ratio ``mean / std * sqrt(periods_per_year)`` (sample std, risk-free rate 0);
    0 when there are fewer than two returns or they do not vary."""
    r = np.asarray(returns, dtype=np.float64)
    if r.size < 2:
        return 0.0
    sd = float(np.std(r, ddof=1))
    return 0.0 if sd <= 1e-15 else float(np.mean(r)) / sd * math.sqrt(periods_per_year)


def sortino_ratio(returns: FloatArray, periods_per_year: float) -> float:
    """Annualised Sortino ratio ``mean / downside deviation * sqrt(periods_per_year)``, the downside
    deviation being ``sqrt(mean(min(r, 0)^2))`` over all periods (target 0); 0 without any loss."""
    r = np.asarray(returns, dtype=np.float64)
    if r.size < 1:
        return 0.0
    downside = math.sqrt(float(np.mean(np.minimum(r, 0.0) ** 2)))
    return 0.0 if downside <= 1e-15 else float(np.mean(r)) / downside * math.sqrt(periods_per_year)


def drawdown(equity: FloatArray) -> FloatArray:
    """Drawdown at each point, a fraction of the running peak (0 at a new high, 1 when wiped out)."""
    e = np.asarray(equity, dtype=np.float64)
    peak = np.maximum.accumulate(e)
    return np.where(peak > 0.0, 1.0 - e / np.where(peak > 0.0, peak, 1.0), 0.0)


def max_drawdown(equity: FloatArray) -> float:
    """Largest drawdown of an equity curve, a fraction of the peak."""
    return float(np.max(drawdown(equity), initial=0.0))


@dataclass(frozen=True, slots=True)
class EpisodeTrace:
    """One account's evaluation episode, step by step.

    :param equity: equity at the reset, then after each step, USDT; ``T + 1`` points.
    :param timestamps: open time of each decision bar, then of each bar a step ended on, ms UTC; ``T + 1``.
    :param fees: fees paid at each step, USDT (>= 0).
    :param funding: funding received at each step, USDT (negative when paid).
    :param traded_notional: notional filled at each step, USDT.
    :param position: signed position after each step, base asset.
    :param actions: the action of each step, ``(T,)`` discrete or ``(T, 1)`` continuous.
    """

    equity: FloatArray
    timestamps: npt.NDArray[np.int64]
    fees: FloatArray
    funding: FloatArray
    traded_notional: FloatArray
    position: FloatArray
    actions: npt.NDArray[np.float64]

    @property
    def steps(self) -> int:
        return int(self.fees.shape[0])


@dataclass(frozen=True, slots=True)
class TradingMetrics:
    """The trading metrics every agent reports (see ``TRADING_TAGS``).

    :param net_return: final over initial equity minus 1.
    :param sharpe: annualised Sharpe ratio of per-bar returns.
    :param sortino: annualised Sortino ratio of per-bar returns.
    :param max_drawdown: largest fall from a peak, fraction of the peak.
    :param turnover: traded notional over the mean equity (times the book was traded over).
    :param fees_paid: fees, USDT.
    :param funding_paid: funding paid minus received, USDT.
    :param time_flat: fraction of bars held without a position.
    :param trade_count: steps with a fill.
    """

    net_return: float
    sharpe: float
    sortino: float
    max_drawdown: float
    turnover: float
    fees_paid: float
    funding_paid: float
    time_flat: float
    trade_count: int

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


def trading_metrics(trace: EpisodeTrace, periods_per_year: float) -> TradingMetrics:
    """The trading metrics of one episode, ratios annualised with ``periods_per_year`` bars."""
    if trace.steps < 1 or trace.equity.shape[0] != trace.steps + 1:
        raise DataError("an episode trace needs at least one step and one more equity point than steps")
    r = simple_returns(trace.equity)
    mean_equity = float(np.mean(trace.equity))
    return TradingMetrics(
        net_return=float(trace.equity[-1] / trace.equity[0] - 1.0),
        sharpe=sharpe_ratio(r, periods_per_year),
        sortino=sortino_ratio(r, periods_per_year),
        max_drawdown=max_drawdown(trace.equity),
        turnover=float(np.sum(trace.traded_notional)) / mean_equity if mean_equity > 0.0 else 0.0,
        fees_paid=float(np.sum(trace.fees)),
        funding_paid=-float(np.sum(trace.funding)),
        time_flat=float(np.mean(trace.position == 0.0)),
        trade_count=int(np.count_nonzero(trace.traded_notional > 0.0)),
    )
