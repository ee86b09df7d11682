"""Rolling statistics of prices and returns: z-score, skewness, excess kurtosis, the Hurst exponent and
autocorrelation. All moments are population (biased) estimates over the window."""

from __future__ import annotations

import numpy as np
from numba import njit

from asterrl.features.kernels.rolling import first_valid, rolling_corr_beta, rolling_mean_var


@njit(cache=True)
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


@njit(cache=True)
def hurst_exponent(log_price: np.ndarray, window: int, max_lag: int) -> np.ndarray:
    """Rolling Hurst exponent from the scaling of lagged differences (generalised Hurst, q = 2).

    For lags k = 1, 2, 4, … ≤ ``max_lag`` take the population std σ_k of the last ``window`` k-bar
    differences of ``log_price``; H is the least-squares slope of ln σ_k on ln k. 0.5 for a random walk,
    above for trending, below for mean-reverting series; 0.5 where a window is flat. First value at
    ``window + max_lag' − 1`` where max_lag' is the largest power of two ≤ ``max_lag``.
    """
    n = log_price.shape[0]
    out = np.full(n, np.nan)
    lags = []
    k = 1
    while k <= max_lag:
        lags.append(k)
        k *= 2
    count = len(lags)
    if count < 2:
        return out
    xs = np.empty(count)
    for j in range(count):
        xs[j] = np.log(lags[j])
    x_mean = xs.mean()
    centred = xs - x_mean
    denominator = (centred * centred).sum()
    log_std = np.full((count, n), np.nan)
    for j in range(count):
        lag = lags[j]
        diffs = np.full(n, np.nan)
        for t in range(lag, n):
            diffs[t] = log_price[t] - log_price[t - lag]
        _, var = rolling_mean_var(diffs, window)
        for t in range(n):
            if not np.isnan(var[t]):
                log_std[j, t] = 0.5 * np.log(var[t]) if var[t] > 0.0 else -np.inf
    for t in range(window + lags[count - 1] - 1, n):
        slope = 0.0
        finite = True
        for j in range(count):
            if not np.isfinite(log_std[j, t]):
                finite = False
                break
            slope += centred[j] * log_std[j, t]
        out[t] = slope / denominator if finite else 0.5
    return out


@njit(cache=True)
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
