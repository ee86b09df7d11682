"""Rolling-window primitives shared by the indicator families: sums, moving averages, extremes, moments.

Moving averages follow TA-Lib's arithmetic (running sum, EMA seeded with the SMA of its first ``period``
values) so the indicators built on them agree with TA-Lib to rounding. Rolling variance uses an add/remove
update of the centred second moment, which stays accurate where the sum-of-squares shortcut cancels.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def first_valid(x: np.ndarray) -> int:
    """Index of the first non-NaN value of ``x`` (``len(x)`` when there is none)."""
    for i in range(x.shape[0]):
        if not np.isnan(x[i]):
            return i
    return x.shape[0]


@njit(cache=True, nogil=True)
def sma(x: np.ndarray, period: int) -> np.ndarray:
    """Simple moving average over ``period`` values, starting at the first non-NaN value of ``x``."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    start = first_valid(x)
    if period < 1 or n - start < period:
        return out
    total = 0.0
    for i in range(start, start + period - 1):
        total += x[i]
    trailing = start
    for i in range(start + period - 1, n):
        total += x[i]
        out[i] = total / period
        total -= x[trailing]
        trailing += 1
    return out


@njit(cache=True, nogil=True)
def ema_seeded_at(x: np.ndarray, period: int, alpha: float, seed_end: int) -> np.ndarray:
    """EMA with smoothing ``alpha`` whose first value, at ``seed_end``, is the SMA of the ``period`` values
    ending there; NaN before ``seed_end``."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    if period < 1 or seed_end >= n or seed_end - period + 1 < first_valid(x):
        return out
    seed = 0.0
    for i in range(seed_end - period + 1, seed_end + 1):
        seed += x[i]
    prev = seed / period
    out[seed_end] = prev
    for i in range(seed_end + 1, n):
        prev = ((x[i] - prev) * alpha) + prev
        out[i] = prev
    return out


@njit(cache=True, nogil=True)
def ema_alpha(x: np.ndarray, period: int, alpha: float) -> np.ndarray:
    """EMA with smoothing ``alpha``, seeded by the SMA of the first ``period`` valid values."""
    return ema_seeded_at(x, period, alpha, first_valid(x) + period - 1)


@njit(cache=True, nogil=True)
def ema(x: np.ndarray, period: int) -> np.ndarray:
    """EMA with ``alpha = 2 / (period + 1)``, seeded by an SMA (TA-Lib's default convention)."""
    return ema_alpha(x, period, 2.0 / (period + 1.0))


@njit(cache=True, nogil=True)
def wma(x: np.ndarray, period: int) -> np.ndarray:
    """Linearly weighted moving average (weights 1..period, newest heaviest), O(1) per bar."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    start = first_valid(x)
    if period < 1 or n - start < period:
        return out
    divider = period * (period + 1) / 2.0
    weighted = 0.0
    plain = 0.0
    for k in range(period - 1):
        weighted += x[start + k] * (k + 1)
        plain += x[start + k]
    trailing = start
    for i in range(start + period - 1, n):
        value = x[i]
        plain += value
        weighted += value * period
        out[i] = weighted / divider
        weighted -= plain
        plain -= x[trailing]
        trailing += 1
    return out


@njit(cache=True, nogil=True)
def rolling_sum(x: np.ndarray, window: int) -> np.ndarray:
    """Sum of the last ``window`` values (NaN until ``window`` valid values are in)."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    start = first_valid(x)
    if window < 1 or n - start < window:
        return out
    total = 0.0
    for i in range(start, n):
        total += x[i]
        if i >= start + window:
            total -= x[i - window]
        if i >= start + window - 1:
            out[i] = total
    return out


@njit(cache=True, nogil=True)
def rolling_extreme(x: np.ndarray, window: int, is_max: bool) -> tuple[np.ndarray, np.ndarray]:
    """Rolling max (or min) over ``window`` values and the index where it occurs (latest on ties).

    van Herk / Gil-Werman: the series is cut into blocks of ``window`` values; the extreme of a window is
    the better of a suffix extreme of the previous block and a prefix extreme of the current one. That is
    three comparisons per value, O(n) whatever the window or the data, with a ``window``-long scratch.
    """
    n = x.shape[0]
    values = np.full(n, np.nan)
    where = np.full(n, -1, dtype=np.int64)
    start = first_valid(x)
    if window < 1 or n - start < window:
        return values, where
    sign = 1.0 if is_max else -1.0
    suffix = np.empty(window)
    suffix_at = np.empty(window, dtype=np.int64)
    for block in range(start, n, window):
        stop = min(block + window, n)
        best = -np.inf
        best_at = block
        for i in range(block, stop):
            v = sign * x[i]
            if v >= best:  # latest index on ties
                best = v
                best_at = i
            offset = i - block + 1
            if offset < window:
                if i - window + 1 < start:
                    continue
                if suffix[offset] > best:  # an earlier bar wins only when strictly better
                    values[i] = sign * suffix[offset]
                    where[i] = suffix_at[offset]
                    continue
            values[i] = sign * best
            where[i] = best_at
        if stop - block == window:
            best = -np.inf
            best_at = stop - 1
            for i in range(stop - 1, block - 1, -1):
                v = sign * x[i]
                if v > best:  # keeps the latest index on ties
                    best = v
                    best_at = i
                suffix[i - block] = best
                suffix_at[i - block] = best_at
    return values, where


@njit(cache=True, nogil=True)
def _rolling_extreme_values(x: np.ndarray, window: int, is_max: bool) -> np.ndarray:
    """Values-only ``rolling_extreme`` (same blocks, no index bookkeeping)."""
    n = x.shape[0]
    values = np.full(n, np.nan)
    start = first_valid(x)
    if window < 1 or n - start < window:
        return values
    sign = 1.0 if is_max else -1.0
    suffix = np.empty(window)
    for block in range(start, n, window):
        stop = min(block + window, n)
        best = -np.inf
        for i in range(block, stop):
            best = max(best, sign * x[i])
            offset = i - block + 1
            if offset < window:
                if i - window + 1 >= start:
                    values[i] = sign * max(suffix[offset], best)
            else:
                values[i] = sign * best
        if stop - block == window:
            best = -np.inf
            for i in range(stop - 1, block - 1, -1):
                best = max(best, sign * x[i])
                suffix[i - block] = best
    return values


@njit(cache=True, nogil=True)
def rolling_max(x: np.ndarray, window: int) -> np.ndarray:
    """Highest of the last ``window`` values."""
    return _rolling_extreme_values(x, window, True)


@njit(cache=True, nogil=True)
def rolling_min(x: np.ndarray, window: int) -> np.ndarray:
    """Lowest of the last ``window`` values."""
    return _rolling_extreme_values(x, window, False)


@njit(cache=True, nogil=True)
def rolling_mean_var(x: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Rolling mean and population variance over ``window`` values (add/remove Welford update)."""
    n = x.shape[0]
    mean_out = np.full(n, np.nan)
    var_out = np.full(n, np.nan)
    start = first_valid(x)
    if window < 1 or n - start < window:
        return mean_out, var_out
    mean = 0.0
    m2 = 0.0
    for k in range(window):
        value = x[start + k]
        delta = value - mean
        mean += delta / (k + 1)
        m2 += delta * (value - mean)
    last = start + window - 1
    mean_out[last] = mean
    var_out[last] = max(m2 / window, 0.0)
    for i in range(last + 1, n):
        incoming = x[i]
        outgoing = x[i - window]
        new_mean = mean + (incoming - outgoing) / window
        m2 += (incoming - outgoing) * (incoming - new_mean + outgoing - mean)
        mean = new_mean
        if m2 < 0.0:
            m2 = 0.0
        mean_out[i] = mean
        var_out[i] = m2 / window
    return mean_out, var_out


@njit(cache=True, nogil=True)
def rolling_zscore(x: np.ndarray, window: int) -> np.ndarray:
    """``(x - rolling mean) / rolling population std``; 0 where the window is flat."""
    mean, var = rolling_mean_var(x, window)
    out = np.full(x.shape[0], np.nan)
    for i in range(x.shape[0]):
        if not np.isnan(var[i]):
            out[i] = (x[i] - mean[i]) / np.sqrt(var[i]) if var[i] > 0.0 else 0.0
    return out


@njit(cache=True, nogil=True)
def rolling_corr_beta(x: np.ndarray, y: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Rolling Pearson correlation of ``x`` and ``y`` and the OLS slope of ``x`` on ``y`` (beta of x to y).

    Both inputs must share the same NaN prefix. Degenerate (flat) windows give 0.
    """
    n = x.shape[0]
    corr = np.full(n, np.nan)
    beta = np.full(n, np.nan)
    start = max(first_valid(x), first_valid(y))
    if window < 2 or n - start < window:
        return corr, beta
    sx = 0.0
    sy = 0.0
    sxx = 0.0
    syy = 0.0
    sxy = 0.0
    for i in range(start, n):
        a = x[i]
        b = y[i]
        sx += a
        sy += b
        sxx += a * a
        syy += b * b
        sxy += a * b
        if i >= start + window:
            a = x[i - window]
            b = y[i - window]
            sx -= a
            sy -= b
            sxx -= a * a
            syy -= b * b
            sxy -= a * b
        if i >= start + window - 1:
            cov = sxy - sx * sy / window
            vx = sxx - sx * sx / window
            vy = syy - sy * sy / window
            denominator = vx * vy
            corr[i] = cov / np.sqrt(denominator) if denominator > 0.0 else 0.0
            beta[i] = cov / vy if vy > 0.0 else 0.0
    return corr, beta


@njit(cache=True, nogil=True)
def log_returns(close: np.ndarray, lag: int) -> np.ndarray:
    """``ln(close[t] / close[t - lag])`` (NaN for the first ``lag`` bars)."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    for i in range(lag, n):
        out[i] = np.log(close[i] / close[i - lag])
    return out


@njit(cache=True, nogil=True)
def simple_returns(close: np.ndarray) -> np.ndarray:
    """``close[t] / close[t - 1] - 1`` computed as TA-Lib does, ``(c_t - c_{t-1}) / c_{t-1}``."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    for i in range(1, n):
        out[i] = (close[i] - close[i - 1]) / close[i - 1]
    return out
