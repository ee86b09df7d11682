"""Headline metrics of many return paths at once: each takes a ``(k, n)`` matrix whose rows are per-bar
simple-return series (fractions) and gives ``k`` values. The bootstrap, the Monte Carlo and the report
evaluate thousands of resampled paths with them in a few numpy passes; a single series is one row.

Conventions: equity starts at 1 and compounds the returns; ratios are annualised with ``bars_per_year``
bars (a parameter: the bar interval decides it); Sharpe uses the sample std (``ddof=1``), risk-free 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from numba import njit

from asterrl.errors import DataError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@njit(cache=True)
def _path_summary_kernel(
    returns: FloatArray, steps: IntArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """One pass per row: final equity, largest drawdown, lowest equity and the equity at ``steps``
    (indices into the ``n + 1`` equity points), equity starting at 1."""
    k, n = returns.shape
    final = np.empty(k)
    max_dd = np.empty(k)
    low = np.empty(k)
    at = np.empty((k, steps.size))
    for i in range(k):
        eq, peak, dd, lo, j = 1.0, 1.0, 0.0, 1.0, 0
        while j < steps.size and steps[j] == 0:
            at[i, j] = 1.0
            j += 1
        for t in range(n):
            eq *= 1.0 + returns[i, t]
            if eq > peak:
                peak = eq
            elif peak > 0.0 and 1.0 - eq / peak > dd:
                dd = 1.0 - eq / peak
            if eq < lo:
                lo = eq
            while j < steps.size and steps[j] == t + 1:
                at[i, j] = eq
                j += 1
        final[i], max_dd[i], low[i] = eq, dd, lo
    return final, max_dd, low, at


def path_summary(
    returns: npt.ArrayLike, steps: npt.ArrayLike | None = None
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Per path (row): final equity, maximum drawdown (fraction of the peak), lowest equity, and the equity
    at each of ``steps`` (ascending indices into the ``n + 1`` equity points, 0 = the start); equity
    starts at 1. One numba pass, no ``(k, n)`` temporaries."""
    m = np.ascontiguousarray(as_paths(returns))
    s = np.zeros(0, dtype=np.int64) if steps is None else np.asarray(steps, dtype=np.int64)
    if s.size and (s[0] < 0 or s[-1] > m.shape[1] or np.any(np.diff(s) < 0)):
        raise DataError(f"steps must be ascending indices in [0, {m.shape[1]}]")
    return _path_summary_kernel(m, s)


def as_paths(returns: npt.ArrayLike) -> FloatArray:
    """``returns`` as a 2-D float64 ``(k, n)`` matrix (a 1-D series becomes one row)."""
    m = np.asarray(returns, dtype=np.float64)
    if m.ndim == 1:
        m = m[None, :]
    if m.ndim != 2 or m.shape[1] < 1:
        raise DataError(f"return paths must be (paths, bars) with >= 1 bar, got shape {m.shape}")
    return m


def equity_paths(returns: npt.ArrayLike) -> FloatArray:
    """``(k, n + 1)`` equity over initial equity: 1, then compounded after each bar."""
    m = as_paths(returns)
    out = np.ones((m.shape[0], m.shape[1] + 1))
    np.cumprod(1.0 + m, axis=1, out=out[:, 1:])
    return out


def total_return(returns: npt.ArrayLike) -> FloatArray:
    """Final over initial equity minus 1, per path."""
    return np.prod(1.0 + as_paths(returns), axis=1) - 1.0


def annualised_return(returns: npt.ArrayLike, bars_per_year: float) -> FloatArray:
    """Compound annual growth rate ``(final equity) ** (bars_per_year / n) - 1``; -1 after a wipe-out."""
    m = as_paths(returns)
    growth = np.maximum(np.prod(1.0 + m, axis=1), 0.0)
    return growth ** (bars_per_year / m.shape[1]) - 1.0


def annualised_volatility(returns: npt.ArrayLike, bars_per_year: float) -> FloatArray:
    """Sample std of per-bar returns times ``sqrt(bars_per_year)``."""
    m = as_paths(returns)
    if m.shape[1] < 2:
        return np.zeros(m.shape[0])
    return m.std(axis=1, ddof=1) * math.sqrt(bars_per_year)


def sharpe(returns: npt.ArrayLike, bars_per_year: float) -> FloatArray:
    """Annualised Sharpe ``mean / std * sqrt(bars_per_year)`` per path; 0 where the returns do not vary."""
    m = as_paths(returns)
    if m.shape[1] < 2:
        return np.zeros(m.shape[0])
    sd = m.std(axis=1, ddof=1)
    ok = sd > 1e-15
    return np.where(ok, m.mean(axis=1) / np.where(ok, sd, 1.0), 0.0) * math.sqrt(bars_per_year)


def sortino(returns: npt.ArrayLike, bars_per_year: float) -> FloatArray:
    """Annualised Sortino ``mean / sqrt(mean(min(r, 0)^2)) * sqrt(bars_per_year)``; 0 without a loss."""
    m = as_paths(returns)
    down = np.sqrt(np.mean(np.minimum(m, 0.0) ** 2, axis=1))
    ok = down > 1e-15
    return np.where(ok, m.mean(axis=1) / np.where(ok, down, 1.0), 0.0) * math.sqrt(bars_per_year)


def underwater(equity: npt.ArrayLike) -> FloatArray:
    """Drawdown at each point of equity curves (1-D, or paths in rows), a fraction of the running peak:
    0 at a new high, 1 when wiped out. Equity in any unit (USDT or a multiple of the initial)."""
    eq = np.asarray(equity, dtype=np.float64)
    peak = np.maximum.accumulate(eq, axis=-1)
    return np.where(peak > 0.0, 1.0 - eq / np.where(peak > 0.0, peak, 1.0), 0.0)


def max_drawdown(returns: npt.ArrayLike) -> FloatArray:
    """Largest fall from a running peak per path, fraction of the peak (1 = wiped out)."""
    return path_summary(returns)[1]


def calmar(returns: npt.ArrayLike, bars_per_year: float) -> FloatArray:
    """Annualised return over maximum drawdown per path; ``inf`` (sign of the return) without a drawdown."""
    cagr = annualised_return(returns, bars_per_year)
    dd = max_drawdown(returns)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(dd > 1e-15, cagr / np.where(dd > 1e-15, dd, 1.0), np.sign(cagr) * np.inf)


def row_statistic(metric: str, bars_per_year: float) -> Callable[[FloatArray], FloatArray]:
    """The row statistic named ``metric`` (``HEADLINE_METRICS``) with annualisation bound in."""
    if metric not in HEADLINE_METRICS:
        raise DataError(f"unknown metric {metric!r}; known: {', '.join(HEADLINE_METRICS)}")
    fn, annualised = HEADLINE_METRICS[metric]
    if annualised:
        return lambda m: fn(m, bars_per_year)
    return fn


#: Metric name -> (row function, whether it takes ``bars_per_year``), in report order.
HEADLINE_METRICS: dict[str, tuple[Callable[..., FloatArray], bool]] = {
    "total_return": (total_return, False),
    "annualised_return": (annualised_return, True),
    "annualised_volatility": (annualised_volatility, True),
    "sharpe": (sharpe, True),
    "sortino": (sortino, True),
    "max_drawdown": (max_drawdown, False),
    "calmar": (calmar, True),
}
