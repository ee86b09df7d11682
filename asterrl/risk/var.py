"""Value at risk (VaR) and conditional value at risk (CVaR, expected shortfall) of per-bar returns.

Units and signs: returns are per-bar simple returns (fractions); VaR and CVaR are **losses, positive**, as
fractions of the equity at the bar's start, for the next bar (scale by sqrt(h) yourself only if you accept
the square-root-of-time rule). ``level`` is the confidence (0.99); the tail probability is
``alpha = 1 - level``.

Methods:

* historical: ``VaR = -q_alpha`` with ``q_alpha = inf{x : F_n(x) >= alpha}`` (the order statistic
  ``x_(ceil(alpha n))``); CVaR by Acerbi & Tasche (2002), "On the coherence of expected shortfall", eq. for
  the discrete sample, which splits the atom at the quantile when ``alpha n`` is fractional;
* parametric normal: ``VaR = -(mu + sigma z_alpha)``, ``CVaR = -(mu - sigma phi(z_alpha) / alpha)``;
* Cornish–Fisher (Zangari 1996, "A VaR methodology for portfolios that include options", RiskMetrics
  Monitor): the normal quantile corrected by skewness ``S`` and excess kurtosis ``K``,
  ``z + (z^2 - 1) S/6 + (z^3 - 3z) K/24 - (2z^3 - 5z) S^2/36``; its CVaR is the exact tail mean of that
  quantile function, ``(1/alpha) int_0^alpha q_CF(u) du`` in closed form (valid while the expansion is
  monotone, i.e. for moderate skewness and kurtosis, Maillard 2012);
* filtered historical simulation (Barone-Adesi, Giannopoulos & Vosper 1999; Hull & White 1998):
  returns over their EWMA volatility (RiskMetrics 1996, ``sigma_t^2 = lambda sigma_{t-1}^2 + (1 - lambda)
  r_{t-1}^2``, zero mean) give standardised residuals whose historical VaR/CVaR is rescaled by the
  volatility forecast for the next bar.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from numba import njit
from scipy.stats import norm

from asterrl.errors import ConfigError, DataError

FloatArray = npt.NDArray[np.float64]
VaRMethod = Literal["historical", "normal", "cornish_fisher", "filtered_historical"]
VAR_METHODS: tuple[VaRMethod, ...] = ("historical", "normal", "cornish_fisher", "filtered_historical")

#: RiskMetrics' decay for daily data; hourly bars usually want a slower decay (closer to 1).
RISKMETRICS_DECAY = 0.94


@dataclass(frozen=True, slots=True)
class VaREstimate:
    """VaR and CVaR of the next bar, positive fractions of equity, at confidence ``level``."""

    var: float
    cvar: float
    level: float
    method: str


def _returns(returns: npt.ArrayLike, min_size: int = 2) -> FloatArray:
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1 or r.size < min_size:
        raise DataError(f"returns must be a 1-D series of at least {min_size} values, got shape {r.shape}")
    if not np.all(np.isfinite(r)):
        raise DataError("returns contain NaN or infinite values")
    return r


def _alpha(level: float) -> float:
    if not 0.0 < level < 1.0:
        raise ConfigError(f"VaR level (confidence) must be in (0, 1), got {level}")
    return 1.0 - level


def historical_var_cvar(returns: npt.ArrayLike, level: float = 0.99) -> tuple[float, float]:
    """(VaR, CVaR) of the empirical distribution of ``returns`` (see the module docstring)."""
    r = np.sort(_returns(returns, 1))
    alpha, n = _alpha(level), r.size
    k = max(1, math.ceil(alpha * n - 1e-12))  # the order statistic holding the alpha-quantile
    q = float(r[k - 1])
    tail_mass = float(np.sum(r[: k - 1])) / n + (alpha - (k - 1) / n) * q
    return -q, -tail_mass / alpha


def normal_var_cvar(returns: npt.ArrayLike, level: float = 0.99) -> tuple[float, float]:
    """(VaR, CVaR) of a normal law with the sample mean and standard deviation (``ddof=1``)."""
    r = _returns(returns)
    alpha = _alpha(level)
    mu, sigma = float(r.mean()), float(r.std(ddof=1))
    z = float(norm.ppf(alpha))
    return -(mu + sigma * z), -(mu - sigma * float(norm.pdf(z)) / alpha)


def cornish_fisher_z(z: float, skew: float, excess_kurtosis: float) -> float:
    """The Cornish–Fisher quantile of a standardised law with that skewness and excess kurtosis at the
    normal quantile ``z``."""
    s, k = skew, excess_kurtosis
    return z + (z * z - 1.0) * s / 6.0 + (z**3 - 3.0 * z) * k / 24.0 - (2.0 * z**3 - 5.0 * z) * s * s / 36.0


def cornish_fisher_tail_mean(alpha: float, skew: float, excess_kurtosis: float) -> float:
    """``(1/alpha) int_{-inf}^{z_alpha} z_CF(z) phi(z) dz``: the mean of the Cornish–Fisher standardised
    quantile over the lower ``alpha`` tail, from the normal partial moments
    ``int z phi = -phi(c)``, ``int (z^2 - 1) phi = -c phi(c)``, ``int (z^3 - 3z) phi = (1 - c^2) phi(c)``."""
    c = float(norm.ppf(alpha))
    pdf = float(norm.pdf(c))
    s, k = skew, excess_kurtosis
    total = (
        -pdf - c * pdf * s / 6.0 + (1.0 - c * c) * pdf * k / 24.0 - (1.0 - 2.0 * c * c) * pdf * s * s / 36.0
    )
    return total / alpha


def cornish_fisher_var_cvar(returns: npt.ArrayLike, level: float = 0.99) -> tuple[float, float]:
    """(VaR, CVaR) with the Cornish–Fisher quantile of the sample mean, std (``ddof=1``), skewness and
    excess kurtosis (population moments)."""
    r = _returns(returns, 3)
    alpha = _alpha(level)
    mu, sigma = float(r.mean()), float(r.std(ddof=1))
    d = r - mu
    m2 = float(np.mean(d * d))
    skew = float(np.mean(d**3)) / m2**1.5 if m2 > 1e-30 else 0.0
    exkurt = float(np.mean(d**4)) / m2**2 - 3.0 if m2 > 1e-30 else 0.0
    z = cornish_fisher_z(float(norm.ppf(alpha)), skew, exkurt)
    return -(mu + sigma * z), -(mu + sigma * cornish_fisher_tail_mean(alpha, skew, exkurt))


@njit(cache=True)
def _ewma_variance_kernel(r: FloatArray, decay: float, initial: float) -> FloatArray:
    out = np.empty(r.size + 1)
    out[0] = initial
    for t in range(r.size):
        out[t + 1] = decay * out[t] + (1.0 - decay) * r[t] * r[t]
    return out


def ewma_variance(
    returns: npt.ArrayLike, decay: float = RISKMETRICS_DECAY, initial: float | None = None
) -> FloatArray:
    """``n + 1`` EWMA variance forecasts (zero mean, per bar): entry ``t`` uses returns before bar ``t``
    only, the last is the forecast for the bar after the series. ``initial`` (default: the mean square of
    the first ``min(n, 30)`` returns) seeds the recursion."""
    r = _returns(returns, 1)
    if not 0.0 < decay < 1.0:
        raise ConfigError(f"EWMA decay must be in (0, 1), got {decay}")
    init = float(np.mean(r[: min(r.size, 30)] ** 2)) if initial is None else float(initial)
    if init < 0.0:
        raise ConfigError(f"initial EWMA variance must be >= 0, got {init}")
    return _ewma_variance_kernel(r, decay, init)


def filtered_historical_var_cvar(
    returns: npt.ArrayLike, level: float = 0.99, decay: float = RISKMETRICS_DECAY
) -> tuple[float, float]:
    """(VaR, CVaR) by filtered historical simulation: historical VaR/CVaR of ``r_t / sigma_t`` times the
    EWMA volatility forecast for the next bar."""
    r = _returns(returns)
    sigma = np.sqrt(ewma_variance(r, decay))
    ok = sigma[:-1] > 1e-15
    if not np.any(ok):
        return 0.0, 0.0
    z_var, z_cvar = historical_var_cvar(r[ok] / sigma[:-1][ok], level)
    return z_var * float(sigma[-1]), z_cvar * float(sigma[-1])


def value_at_risk(
    returns: npt.ArrayLike,
    level: float = 0.99,
    method: VaRMethod = "historical",
    decay: float = RISKMETRICS_DECAY,
) -> VaREstimate:
    """VaR and CVaR of the next bar by ``method`` (see the module docstring)."""
    if method == "historical":
        v, c = historical_var_cvar(returns, level)
    elif method == "normal":
        v, c = normal_var_cvar(returns, level)
    elif method == "cornish_fisher":
        v, c = cornish_fisher_var_cvar(returns, level)
    elif method == "filtered_historical":
        v, c = filtered_historical_var_cvar(returns, level, decay)
    else:
        raise ConfigError(f"unknown VaR method {method!r}; known: {', '.join(VAR_METHODS)}")
    return VaREstimate(v, c, level, method)


def rolling_var(
    returns: npt.ArrayLike,
    window: int,
    level: float = 0.99,
    method: VaRMethod = "historical",
    decay: float = RISKMETRICS_DECAY,
) -> FloatArray:
    """One-bar-ahead VaR forecast for every bar: entry ``t`` is the VaR of bar ``t`` from returns
    ``[t - window, t)`` only (NaN for the first ``window`` bars), ready for
    :mod:`asterrl.risk.var_backtest`."""
    r = _returns(returns)
    if not 3 <= window < r.size:
        raise ConfigError(f"VaR window must be in [3, {r.size - 1}] bars, got {window}")
    out = np.full(r.size, np.nan)
    for t in range(window, r.size):
        out[t] = value_at_risk(r[t - window : t], level, method, decay).var
    return out
