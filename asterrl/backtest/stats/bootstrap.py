"""The stationary block bootstrap, its automatic block length, and bootstrap confidence intervals.

* Politis, D. N. and Romano, J. P. (1994), "The Stationary Bootstrap", JASA 89(428): a resample is a
  chain of blocks of consecutive bars (wrapping round the end) whose lengths are geometric with mean
  ``mean_block``; unlike fixed blocks the resampled series is itself stationary.
* Politis, D. N. and White, H. (2004), "Automatic Block-Length Selection for the Dependent Bootstrap",
  Econometric Reviews 23(1), with the correction of Patton, Politis and White (2009), Econometric Reviews
  28(4): ``b = (2 G^2 / D)^(1/3) n^(1/3)`` with ``G`` and ``D`` estimated by a flat-top lag window whose
  bandwidth is picked from where the autocorrelations stop being significant.

A statistic is a *row statistic*: it takes a ``(k, n)`` matrix of ``k`` resampled return series and gives
``k`` values (see :mod:`asterrl.backtest.stats.pathwise`), so thousands of resamples cost a few numpy
passes. Resamples are drawn in batches to bound memory.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numba import njit

from asterrl.backtest.stats.sharpe import as_returns
from asterrl.errors import DataError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
RowStatistic = Callable[[FloatArray], FloatArray]

#: Resampled values held at once (bounds a batch to about 32 MB of float64).
BATCH_VALUES = 4_000_000


@njit(cache=True)
def _stationary_indices_kernel(n_obs: int, n_samples: int, length: int, p: float, seed: int) -> IntArray:
    """Each row: blocks of consecutive indices (wrapping at ``n_obs``) from uniform starts, with
    geometric lengths of mean ``1/p`` (numba's generator, seeded from the caller's)."""
    np.random.seed(seed)
    out = np.empty((n_samples, length), dtype=np.int64)
    log_q = np.log1p(-p) if p < 1.0 else -np.inf
    for i in range(n_samples):
        t = 0
        while t < length:
            cur = int(np.random.random() * n_obs)
            # geometric length on {1, 2, ...} by inversion: 1 + floor(ln(U) / ln(1 - p))
            block = 1 if p >= 1.0 else 1 + int(np.log(1.0 - np.random.random()) / log_q)
            stop = min(length, t + block)
            while t < stop:
                out[i, t] = cur
                cur += 1
                if cur == n_obs:
                    cur = 0
                t += 1
    return out


def stationary_bootstrap_indices(
    n_obs: int, n_samples: int, mean_block: float, rng: np.random.Generator, length: int | None = None
) -> IntArray:
    """``(n_samples, length)`` indices into a series of ``n_obs`` bars, each row a stationary-bootstrap
    resample with geometric block lengths of mean ``mean_block`` bars (``length`` defaults to ``n_obs``).
    The draws follow from ``rng`` (one seed is taken from it per call)."""
    if n_obs < 1 or n_samples < 1:
        raise DataError(f"need >= 1 observation and >= 1 sample, got {n_obs} and {n_samples}")
    if not mean_block >= 1.0:
        raise DataError(f"the mean block length must be >= 1 bar, got {mean_block}")
    m = n_obs if length is None else int(length)
    seed = int(rng.integers(0, 2**31 - 1))
    return _stationary_indices_kernel(n_obs, n_samples, m, 1.0 / mean_block, seed)


@dataclass(frozen=True, slots=True)
class BlockLength:
    """Politis–White optimal mean block lengths, bars: ``stationary`` (stationary bootstrap) and
    ``circular`` (circular block bootstrap); ``bandwidth`` is the flat-top window's lag ``M``."""

    stationary: float
    circular: float
    bandwidth: int


def optimal_block_length(series: npt.ArrayLike) -> BlockLength:
    """Automatic block length of Politis & White (2004) as corrected by Patton, Politis & White (2009).

    The bandwidth ``M = min(2 m, sqrt(n) + K)`` where ``m`` is the first lag from which ``K = max(5,
    sqrt(log10 n))`` consecutive autocorrelations lie within ``2 sqrt(log10(n) / n)`` (as in Patton's
    program accompanying the correction: the last significant lag when there is no such run); lengths
    are capped at ``min(3 sqrt(n), n / 3)`` and floored at 1 bar.
    """
    x = as_returns(series, "series", min_size=8)
    n = x.size
    d = x - x.mean()
    k_n = max(5, math.ceil(math.sqrt(math.log10(n))))
    m_max = math.ceil(math.sqrt(n)) + k_n
    b_max = math.ceil(min(3.0 * math.sqrt(n), n / 3.0))
    max_lag = min(m_max + k_n, n - 1)
    acov = np.array([float(np.dot(d[: n - k], d[k:])) / n for k in range(max_lag + 1)])
    if acov[0] <= 1e-30:
        return BlockLength(1.0, 1.0, 0)
    rho = acov[1:] / acov[0]  # rho[j] is the autocorrelation at lag j + 1
    significant = np.abs(rho) >= 2.0 * math.sqrt(math.log10(n) / n)
    m_hat = None
    for m in range(1, m_max + 1):  # first lag m with lags m .. m + K - 1 all insignificant
        window_lags = significant[m - 1 : m - 1 + k_n]
        if window_lags.size == k_n and not bool(np.any(window_lags)):
            m_hat = m
            break
    if m_hat is None:  # none: the last significant lag (Patton's program)
        m_hat = int(np.flatnonzero(significant[:m_max])[-1]) + 1 if np.any(significant[:m_max]) else 1
    bandwidth = min(2 * m_hat, m_max, max_lag)
    lags = np.arange(-bandwidth, bandwidth + 1)
    t = np.abs(lags) / bandwidth
    window = np.where(t <= 0.5, 1.0, np.where(t <= 1.0, 2.0 * (1.0 - t), 0.0))
    r = acov[np.abs(lags)]
    g_hat = float(np.sum(window * np.abs(lags) * r))
    spectral0 = float(np.sum(window * r))
    if spectral0 <= 1e-30 or g_hat == 0.0:
        return BlockLength(1.0, 1.0, bandwidth)
    cube = n ** (1.0 / 3.0)
    b_sb = (2.0 * g_hat**2 / (2.0 * spectral0**2)) ** (1.0 / 3.0) * cube
    b_cb = (2.0 * g_hat**2 / (4.0 / 3.0 * spectral0**2)) ** (1.0 / 3.0) * cube
    return BlockLength(float(np.clip(b_sb, 1.0, b_max)), float(np.clip(b_cb, 1.0, b_max)), bandwidth)


def bootstrap_distributions(
    returns: npt.ArrayLike,
    statistics: Mapping[str, RowStatistic],
    n_samples: int = 2000,
    mean_block: float | None = None,
    seed: int | np.random.Generator = 0,
) -> tuple[dict[str, FloatArray], float]:
    """(name -> values of each statistic on the same ``n_samples`` stationary-bootstrap resamples of
    ``returns``, the mean block length used in bars). ``mean_block=None`` picks it with
    :func:`optimal_block_length`."""
    r = as_returns(returns, min_size=8)
    if n_samples < 1:
        raise DataError(f"the bootstrap needs at least 1 resample, got {n_samples}")
    block = optimal_block_length(r).stationary if mean_block is None else float(mean_block)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    out = {name: np.empty(n_samples) for name in statistics}
    batch = max(1, BATCH_VALUES // r.size)
    for lo in range(0, n_samples, batch):
        k = min(batch, n_samples - lo)
        resamples = r[stationary_bootstrap_indices(r.size, k, block, rng)]
        for name, statistic in statistics.items():
            out[name][lo : lo + k] = statistic(resamples)
    return out, block


@dataclass(frozen=True, slots=True)
class ConfidenceInterval:
    """A point estimate with its stationary-bootstrap percentile interval.

    :param estimate: the statistic on the observed series.
    :param low: lower bound (the ``(1 - confidence)/2`` quantile of the bootstrap values).
    :param high: upper bound (the ``(1 + confidence)/2`` quantile).
    :param standard_error: standard deviation of the bootstrap values.
    :param confidence: coverage aimed at (0.95 = 95 %).
    :param mean_block: mean block length used, bars.
    :param n_samples: bootstrap resamples.
    """

    estimate: float
    low: float
    high: float
    standard_error: float
    confidence: float
    mean_block: float
    n_samples: int


def bootstrap_confidence_intervals(
    returns: npt.ArrayLike,
    statistics: Mapping[str, RowStatistic],
    confidence: float = 0.95,
    n_samples: int = 2000,
    mean_block: float | None = None,
    seed: int | np.random.Generator = 0,
) -> dict[str, ConfidenceInterval]:
    """Percentile confidence interval of each row statistic of a return series under the stationary
    block bootstrap (dependence within blocks kept), all from the same resamples."""
    if not 0.0 < confidence < 1.0:
        raise DataError(f"confidence must be in (0, 1), got {confidence}")
    if n_samples < 10:
        raise DataError(f"a bootstrap interval needs at least 10 resamples, got {n_samples}")
    r = as_returns(returns, min_size=8)
    values, block = bootstrap_distributions(r, statistics, n_samples, mean_block, seed)
    tail = (1.0 - confidence) / 2.0
    out = {}
    for name, statistic in statistics.items():
        finite = values[name][np.isfinite(values[name])]
        estimate = float(statistic(r[None, :])[0])
        if finite.size < 2:
            out[name] = ConfidenceInterval(estimate, np.nan, np.nan, np.nan, confidence, block, n_samples)
            continue
        low, high = np.quantile(finite, [tail, 1.0 - tail])
        se = float(np.std(finite, ddof=1))
        out[name] = ConfidenceInterval(estimate, float(low), float(high), se, confidence, block, n_samples)
    return out


def bootstrap_confidence_interval(
    returns: npt.ArrayLike,
    statistic: RowStatistic,
    confidence: float = 0.95,
    n_samples: int = 2000,
    mean_block: float | None = None,
    seed: int | np.random.Generator = 0,
) -> ConfidenceInterval:
    """:func:`bootstrap_confidence_intervals` of one statistic."""
    cis = bootstrap_confidence_intervals(returns, {"x": statistic}, confidence, n_samples, mean_block, seed)
    return cis["x"]
