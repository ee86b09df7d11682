"""The Sharpe ratio and its sampling error under non-normal and autocorrelated returns.

Units: every Sharpe ratio here is **per bar** (mean over standard deviation of one bar's simple return,
risk-free rate 0 unless given) and every standard error is of that per-bar ratio. Annualise with
``bars_per_year`` (a parameter, from the bar interval): ``SR * sqrt(bars_per_year)`` for independent bars,
:func:`time_aggregated_sharpe` when the bars are autocorrelated (Lo 2002).

Sources:

* Lo, A. W. (2002), "The Statistics of Sharpe Ratios", Financial Analysts Journal 58(4): the IID-normal
  standard error ``sqrt((1 + SR^2/2) / T)``, the GMM/HAC standard error for non-IID returns, and the
  scale factor ``eta(q)`` that turns a one-period Sharpe into a q-period one under serial correlation.
* Mertens, E. (2002), "Comments on variance of the IID estimator in Lo (2002)": for IID non-normal returns
  ``Var(SR) = (1 + SR^2/2 - skew * SR + (kurt - 3)/4 * SR^2) / T``; Opdyke, J. D. (2007), "Comparing Sharpe
  ratios: so where are the p-values?", J. Asset Management 8(5), derives the same under stationarity and
  ergodicity (the HAC form below, which reduces to Mertens' when the moments are serially uncorrelated).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from asterrl.errors import DataError

FloatArray = npt.NDArray[np.float64]

SharpeErrorMethod = Literal["normal", "non_normal", "hac"]


def as_returns(returns: npt.ArrayLike, what: str = "returns", min_size: int = 2) -> FloatArray:
    """``returns`` as a finite 1-D float64 array of at least ``min_size`` values, or a :class:`DataError`."""
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1:
        raise DataError(f"{what} must be a 1-D series of per-bar returns, got shape {r.shape}")
    if r.size < min_size:
        raise DataError(f"{what} needs at least {min_size} values, got {r.size}")
    if not np.all(np.isfinite(r)):
        raise DataError(f"{what} contains NaN or infinite values")
    return r


def sharpe_ratio(returns: npt.ArrayLike, risk_free: float = 0.0) -> float:
    """Per-bar Sharpe ratio ``mean(r - rf) / std(r)`` (sample std, ``ddof=1``); 0 when ``r`` is constant.

    :param returns: per-bar simple returns (fractions, 0.01 = +1 %).
    :param risk_free: risk-free return per bar (fraction).
    """
    r = as_returns(returns)
    sd = float(np.std(r, ddof=1))
    return 0.0 if sd <= 1e-15 else (float(np.mean(r)) - risk_free) / sd


def skewness(returns: npt.ArrayLike) -> float:
    """Sample skewness ``m3 / m2^1.5`` (population moments, as in the sources); 0 for a constant series."""
    r = as_returns(returns)
    d = r - r.mean()
    m2 = float(np.mean(d**2))
    return 0.0 if m2 <= 1e-30 else float(np.mean(d**3)) / m2**1.5


def kurtosis(returns: npt.ArrayLike) -> float:
    """Sample kurtosis ``m4 / m2^2``, **not** excess (a normal law has 3); 3 for a constant series."""
    r = as_returns(returns)
    d = r - r.mean()
    m2 = float(np.mean(d**2))
    return 3.0 if m2 <= 1e-30 else float(np.mean(d**4)) / m2**2


def sharpe_variance_factor(sharpe: float, skew: float = 0.0, kurt: float = 3.0) -> float:
    """``1 - skew*SR + (kurt - 1)/4 * SR^2``: T times the asymptotic variance of the per-bar Sharpe estimate
    of IID returns with that skewness and (non-excess) kurtosis (Mertens 2002; with skew 0 and kurt 3 it is
    Lo's ``1 + SR^2/2``). Shared by the standard error, the PSR, the DSR and the minimum track record."""
    return 1.0 - skew * sharpe + (kurt - 1.0) / 4.0 * sharpe * sharpe


def newey_west_lags(observations: int) -> int:
    """The Newey–West (1994) rule of thumb ``floor(4 (T/100)^(2/9))`` for the HAC truncation lag."""
    return math.floor(4.0 * (observations / 100.0) ** (2.0 / 9.0))


@dataclass(frozen=True, slots=True)
class SharpeEstimate:
    """A per-bar Sharpe ratio with its standard error.

    :param sharpe: per-bar Sharpe ratio.
    :param standard_error: standard error of ``sharpe`` (per bar).
    :param observations: number of returns ``T``.
    :param skewness: sample skewness of the returns.
    :param kurtosis: sample kurtosis of the returns (normal = 3).
    :param method: ``normal`` (Lo, IID normal), ``non_normal`` (Mertens/Opdyke, IID) or ``hac`` (Lo GMM with
        a Newey–West kernel, autocorrelation- and heteroskedasticity-robust).
    :param lags: HAC truncation lag (0 for the IID methods).
    """

    sharpe: float
    standard_error: float
    observations: int
    skewness: float
    kurtosis: float
    method: str
    lags: int

    def annualised(self, bars_per_year: float) -> tuple[float, float]:
        """(Sharpe, standard error) scaled by ``sqrt(bars_per_year)`` (the IID annualisation)."""
        k = math.sqrt(bars_per_year)
        return self.sharpe * k, self.standard_error * k


def sharpe_standard_error(
    returns: npt.ArrayLike, method: SharpeErrorMethod = "hac", lags: int | None = None
) -> SharpeEstimate:
    """The per-bar Sharpe ratio of ``returns`` and its asymptotic standard error.

    ``normal``: ``sqrt((1 + SR^2/2) / T)`` (Lo 2002, IID normal returns). ``non_normal``:
    ``sqrt(sharpe_variance_factor(SR, skew, kurt) / T)`` (Mertens 2002, IID). ``hac``: the delta method on
    the GMM estimates of mean and variance with a Bartlett-weighted (Newey–West) long-run covariance of the
    moment conditions ``(r - mu, (r - mu)^2 - sigma^2)`` (Lo 2002 §"non-IID returns"; Opdyke 2007), with
    ``lags`` (default :func:`newey_west_lags`); at ``lags=0`` it is the IID non-normal error.
    """
    r = as_returns(returns, min_size=3)
    n = r.size
    sr = sharpe_ratio(r)
    sk, ku = skewness(r), kurtosis(r)
    if method == "normal":
        var, used_lags = (1.0 + sr * sr / 2.0) / n, 0
    elif method == "non_normal":
        var, used_lags = sharpe_variance_factor(sr, sk, ku) / n, 0
    elif method == "hac":
        used_lags = newey_west_lags(n) if lags is None else int(lags)
        if used_lags < 0 or used_lags >= n:
            raise DataError(f"HAC lags must be in [0, {n - 1}], got {used_lags}")
        var = _hac_sharpe_variance(r, used_lags)
    else:
        raise DataError(f"unknown Sharpe standard-error method {method!r} (normal, non_normal, hac)")
    return SharpeEstimate(sr, math.sqrt(max(var, 0.0)), n, sk, ku, method, used_lags)


def hac_covariance(moments: FloatArray, lags: int) -> FloatArray:
    """Newey–West long-run covariance ``G0 + sum_k (1 - k/(L+1)) (Gk + Gk')`` of mean-zero moment rows
    ``moments`` of shape ``(T, m)``, the autocovariances ``Gk`` averaged over ``T``."""
    n = moments.shape[0]
    cov = moments.T @ moments / n
    for k in range(1, lags + 1):
        gamma = moments[k:].T @ moments[:-k] / n
        cov += (1.0 - k / (lags + 1.0)) * (gamma + gamma.T)
    return cov


def _hac_sharpe_variance(r: FloatArray, lags: int) -> float:
    mu = float(r.mean())
    d = r - mu
    var = float(np.mean(d * d))
    if var <= 1e-30:
        return 0.0
    sigma = math.sqrt(var)
    moments = np.column_stack([d, d * d - var])
    omega = hac_covariance(moments, lags)
    grad = np.array([1.0 / sigma, -mu / (2.0 * sigma**3)])
    return float(grad @ omega @ grad) / r.size


def autocorrelations(returns: npt.ArrayLike, max_lag: int) -> FloatArray:
    """Sample autocorrelations ``rho_1 .. rho_max_lag`` (autocovariances over ``T``, divided by the
    variance); zeros for a constant series."""
    r = as_returns(returns)
    if not 0 <= max_lag < r.size:
        raise DataError(f"max_lag must be in [0, {r.size - 1}], got {max_lag}")
    d = r - r.mean()
    var = float(np.dot(d, d))
    if var <= 1e-30:
        return np.zeros(max_lag)
    return np.array([float(np.dot(d[k:], d[:-k])) / var for k in range(1, max_lag + 1)])


def aggregation_scale(q: int, rho: npt.ArrayLike) -> float:
    """Lo's (2002) ``eta(q) = q / sqrt(q + 2 sum_{k=1}^{q-1} (q - k) rho_k)``: a q-bar Sharpe is
    ``eta(q)`` times the one-bar Sharpe when returns add over bars; ``rho_k`` past the given ones are 0.
    With no autocorrelation ``eta(q) = sqrt(q)``."""
    if q < 1:
        raise DataError(f"aggregation period q must be >= 1, got {q}")
    rho_arr = np.asarray(rho, dtype=np.float64)[: q - 1]
    k = np.arange(1, rho_arr.size + 1, dtype=np.float64)
    inner = q + 2.0 * float(np.sum((q - k) * rho_arr))
    if inner <= 0.0:
        raise DataError("the autocorrelations give a non-positive variance of the aggregated return")
    return q / math.sqrt(inner)


def time_aggregated_sharpe(returns: npt.ArrayLike, q: float, max_lag: int | None = None) -> float:
    """Sharpe over ``q`` bars (e.g. ``q = bars_per_year`` for an annual Sharpe) corrected for serial
    correlation (Lo 2002): ``eta(q) * SR`` with sample autocorrelations up to ``max_lag`` (default the
    Newey–West lag) and zero beyond. ``q`` is rounded to whole bars."""
    r = as_returns(returns, min_size=3)
    lag = newey_west_lags(r.size) if max_lag is None else max_lag
    qi = max(1, round(q))
    return aggregation_scale(qi, autocorrelations(r, min(lag, qi - 1, r.size - 1))) * sharpe_ratio(r)
