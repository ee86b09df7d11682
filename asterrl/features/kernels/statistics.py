"""Rolling statistics of prices and returns: z-score, skewness, excess kurtosis, the Hurst exponent and
autocorrelation. All moments are population (biased) estimates over the window."""

from __future__ import annotations

import numpy as np
from numba import njit

from asterrl.features.kernels.rolling import first_valid, rolling_corr_beta


@njit(cache=True, nogil=True)
def rolling_moments(x: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Rolling skewness ``m3 / m2^1.5`` and excess kurtosis ``m4 / m2² − 3`` of ``x`` over ``window``
    values; 0 for both on a constant window.

    Central moments come from running power sums of ``x − anchor`` (anchor = the window mean at the
    start), which is accurate for return-like inputs centred near zero.
    """
    n = x.shape[0]
    skew = np.full(n, np.nan)
    kurt = np.full(n, np.nan)
    start = first_valid(x)
    if window < 2 or n - start < window:
        return skew, kurt
    anchor = 0.0
    for i in range(start, start + window):
        anchor += x[i]
    anchor /= window
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    s4 = 0.0
    for i in range(start, n):
        d = x[i] - anchor
        d2 = d * d
        s1 += d
        s2 += d2
        s3 += d2 * d
        s4 += d2 * d2
        if i >= start + window:
            d = x[i - window] - anchor
            d2 = d * d
            s1 -= d
            s2 -= d2
            s3 -= d2 * d
            s4 -= d2 * d2
        if i < start + window - 1:
            continue
        mean = s1 / window
        m2 = s2 / window - mean * mean
        m3 = s3 / window - 3.0 * mean * s2 / window + 2.0 * mean**3
        m4 = s4 / window - 4.0 * mean * s3 / window + 6.0 * mean * mean * s2 / window - 3.0 * mean**4
        if m2 <= 1e-14 * (s2 / window + 1e-300):
            skew[i] = 0.0
            kurt[i] = 0.0
        else:
            skew[i] = m3 / m2**1.5
            kurt[i] = m4 / (m2 * m2) - 3.0
    return skew, kurt


@njit(cache=True, nogil=True, inline="always")
def _slide(
    log_price: np.ndarray,
    t: int,
    lag: int,
    window: int,
    inverse: float,
    mean: np.ndarray,
    m2: np.ndarray,
    var: np.ndarray,
    j: int,
) -> None:
    """Move one lag's window of differences a bar on (the add/remove update of ``rolling_mean_var``)."""
    d = log_price[t] - log_price[t - lag]
    gone = log_price[t - window] - log_price[t - window - lag]
    new_mean = mean[j] + (d - gone) * inverse
    m2[j] += (d - gone) * (d - new_mean + gone - mean[j])
    mean[j] = new_mean
    if m2[j] < 0.0:
        m2[j] = 0.0
    var[j] = m2[j] * inverse


@njit(cache=True, nogil=True, inline="always")
def _hurst_slope(var: np.ndarray, powers: np.ndarray, factor: float) -> float:
    """Slope of ln σ_k on ln k from the per-lag variances (0.5 when a window is flat)."""
    count = var.shape[0]
    if var[0] <= 0.0:
        return 0.5
    inverse_base = 1.0 / var[0]
    numerator = 1.0
    denominator = 1.0
    for j in range(1, count):
        if var[j] <= 0.0:
            return 0.5
        ratio = var[j] * inverse_base
        for _ in range(powers[j]):
            numerator *= ratio
        for _ in range(-powers[j]):
            denominator *= ratio
    product = numerator / denominator
    if 0.0 < product < np.inf:
        return np.log(product) * factor
    total = 0.0  # the product left the float range (extreme ratios, many lags): sum the logarithms
    for j in range(1, count):
        total += powers[j] * np.log(var[j] * inverse_base)
    return total * factor


@njit(cache=True, nogil=True)
def hurst_exponent(log_price: np.ndarray, window: int, max_lag: int) -> np.ndarray:
    """Rolling Hurst exponent from the scaling of lagged differences (generalised Hurst, q = 2).

    For lags k = 1, 2, 4, … ≤ ``max_lag`` take the population std σ_k of the last ``window`` k-bar
    differences of ``log_price``; H is the least-squares slope of ln σ_k on ln k. 0.5 for a random walk,
    above for trending, below for mean-reverting series; 0.5 where a window is flat. First value at
    ``window + max_lag' − 1`` where max_lag' is the largest power of two ≤ ``max_lag``.

    One pass keeps a rolling variance per lag. As ln k_j = j·ln 2 and the centred weights sum to zero, the
    slope is ``ln2/(2·Σ(j−m)²) · Σ(2j − (count−1)) · ln(σ²_j / σ²_0) / 2``: one logarithm per bar, of a
    product of variance ratios (a sum of logarithms where that product would leave the float range).
    """
    n = log_price.shape[0]
    out = np.full(n, np.nan)
    count = 0
    k = 1
    while k <= max_lag:
        count += 1
        k *= 2
    if count < 2 or window < 1:
        return out
    lags = np.empty(count, dtype=np.int64)
    powers = np.empty(count, dtype=np.int64)
    for j in range(count):
        lags[j] = 1 << j
        powers[j] = 2 * j - (count - 1)
    half_spread = 0.0
    for j in range(count):
        half_spread += (j - (count - 1) / 2.0) ** 2
    # slope = Σ c_j · ½ ln σ²_j / Σ c_j², c_j = (j − m) ln 2  →  ln(Π r_j^{2(j−m)}) / (4 ln2 · Σ(j−m)²).
    factor = 1.0 / (4.0 * np.log(2.0) * half_spread)
    mean = np.zeros(count)
    m2 = np.zeros(count)
    var = np.zeros(count)
    inverse = 1.0 / window
    first = window + lags[count - 1] - 1
    for t in range(1, min(first + 1, n)):  # warm-up: each lag fills its first window
        for j in range(count):
            lag = lags[j]
            if t < lag:
                break
            d = log_price[t] - log_price[t - lag]
            i = t - lag
            if i < window:
                delta = d - mean[j]
                mean[j] += delta / (i + 1)
                m2[j] += delta * (d - mean[j])
                var[j] = max(m2[j] * inverse, 0.0)
            else:
                _slide(log_price, t, lag, window, inverse, mean, m2, var, j)
    if first < n:
        out[first] = _hurst_slope(var, powers, factor)
    for t in range(first + 1, n):
        for j in range(count):
            _slide(log_price, t, lags[j], window, inverse, mean, m2, var, j)
        out[t] = _hurst_slope(var, powers, factor)
    return out


@njit(cache=True, nogil=True)
def autocorrelation(x: np.ndarray, window: int, lag: int) -> np.ndarray:
    """Rolling Pearson correlation of ``x[t]`` with ``x[t − lag]`` over the last ``window`` pairs."""
    n = x.shape[0]
    lagged = np.full(n, np.nan)
    for t in range(lag, n):
        lagged[t] = x[t - lag]
    current = x.copy()
    start = first_valid(lagged)
    for t in range(min(start, n)):
        current[t] = np.nan
    return rolling_corr_beta(current, lagged, window)[0]
