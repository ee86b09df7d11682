"""Volatility: true range, ATR/NATR, Bollinger, Keltner and Donchian channels, and per-bar volatility
estimators (close-to-close, Parkinson, Garman–Klass, Yang–Zhang) as fractions of price, not annualised."""

from __future__ import annotations

import numpy as np
from numba import njit

from asterrl.features.kernels.rolling import ema, first_valid, rolling_max, rolling_min, rolling_sum

_LN2 = np.log(2.0)


@njit(cache=True, nogil=True)
def true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """Wilder's true range, quote currency; NaN at bar 0 (no previous close)."""
    n = high.shape[0]
    out = np.full(n, np.nan)
    for t in range(1, n):
        out[t] = max(high[t], close[t - 1]) - min(low[t], close[t - 1])
    return out


@njit(cache=True, nogil=True)
def atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int) -> np.ndarray:
    """Average true range (Wilder smoothing seeded by the SMA of the first ``period`` ranges); from bar
    ``period``."""
    n = high.shape[0]
    out = np.full(n, np.nan)
    if period < 1 or n <= period:
        return out
    total = 0.0
    for t in range(1, period + 1):
        total += max(high[t], close[t - 1]) - min(low[t], close[t - 1])
    prev = total / period
    out[period] = prev
    # Multiplying by 1/period shortens the dependency chain (a division costs ~4 multiplications); it
    # moves each value by at most an ulp, and Wilder's smoothing does not accumulate such differences.
    inverse = 1.0 / period
    for t in range(period + 1, n):
        prev = ((prev * (period - 1)) + (max(high[t], close[t - 1]) - min(low[t], close[t - 1]))) * inverse
        out[t] = prev
    return out


@njit(cache=True, nogil=True)
def natr(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int) -> np.ndarray:
    """ATR as a percentage of the close."""
    values = atr(high, low, close, period)
    out = np.full(high.shape[0], np.nan)
    for t in range(period, high.shape[0]):
        out[t] = (values[t] / close[t]) * 100.0 if close[t] != 0.0 else 0.0
    return out


@njit(cache=True, nogil=True)
def bollinger(
    x: np.ndarray, period: int, width: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Bollinger bands ``SMA ± width·σ`` (population σ over ``period``), %B ``(x − lower)/(upper − lower)``
    (0.5 on a flat window) and band width ``(upper − lower)/middle``."""
    n = x.shape[0]
    upper = np.full(n, np.nan)
    middle = np.full(n, np.nan)
    lower = np.full(n, np.nan)
    pctb = np.full(n, np.nan)
    bandwidth = np.full(n, np.nan)
    start = first_valid(x)
    if period < 1 or n - start < period:
        return upper, middle, lower, pctb, bandwidth
    # One pass: the running sum of ``sma`` and the add/remove variance update of ``rolling_mean_var``.
    total = 0.0
    for i in range(start, start + period - 1):
        total += x[i]
    mean = 0.0
    m2 = 0.0
    for k in range(period):
        value = x[start + k]
        delta = value - mean
        mean += delta / (k + 1)
        m2 += delta * (value - mean)
    last = start + period - 1
    var = max(m2 / period, 0.0)
    for t in range(last, n):
        if t > last:
            incoming = x[t]
            outgoing = x[t - period]
            new_mean = mean + (incoming - outgoing) / period
            m2 += (incoming - outgoing) * (incoming - new_mean + outgoing - mean)
            mean = new_mean
            if m2 < 0.0:
                m2 = 0.0
            var = m2 / period
        total += x[t]
        average = total / period
        total -= x[t - period + 1]
        deviation = width * np.sqrt(var)
        upper[t] = average + deviation
        middle[t] = average
        lower[t] = average - deviation
        span = upper[t] - lower[t]
        pctb[t] = (x[t] - lower[t]) / span if span > 0.0 else 0.5
        bandwidth[t] = span / average if average != 0.0 else 0.0
    return upper, middle, lower, pctb, bandwidth


@njit(cache=True, nogil=True)
def keltner(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int, atr_period: int, multiplier: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keltner channel: EMA(close, period) ± multiplier·ATR(atr_period)."""
    middle = ema(close, period)
    width = multiplier * atr(high, low, close, atr_period)
    return middle + width, middle, middle - width


@njit(cache=True, nogil=True)
def donchian(high: np.ndarray, low: np.ndarray, period: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Donchian channel: highest high, midpoint and lowest low of the last ``period`` bars."""
    upper = rolling_max(high, period)
    lower = rolling_min(low, period)
    return upper, (upper + lower) / 2.0, lower


@njit(cache=True, nogil=True)
def realized_volatility(close: np.ndarray, window: int) -> np.ndarray:
    """Root mean square of the last ``window`` one-bar log returns (per bar)."""
    n = close.shape[0]
    squared = np.full(n, np.nan)
    for t in range(1, n):
        r = np.log(close[t] / close[t - 1])
        squared[t] = r * r
    return np.sqrt(rolling_sum(squared, window) / window)


@njit(cache=True, nogil=True)
def parkinson(high: np.ndarray, low: np.ndarray, window: int) -> np.ndarray:
    """Parkinson (1980) range estimator ``sqrt(Σ ln(H/L)² / (4 ln2 · window))`` (per bar)."""
    n = high.shape[0]
    term = np.empty(n)
    for t in range(n):
        hl = np.log(high[t] / low[t])
        term[t] = hl * hl
    return np.sqrt(rolling_sum(term, window) / (4.0 * _LN2 * window))


@njit(cache=True, nogil=True)
def garman_klass(
    open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, window: int
) -> np.ndarray:
    """Garman–Klass (1980) estimator ``sqrt(mean(½ ln(H/L)² − (2 ln2 − 1) ln(C/O)²))`` (per bar, ≥ 0)."""
    n = high.shape[0]
    term = np.empty(n)
    for t in range(n):
        hl = np.log(high[t] / low[t])
        co = np.log(close[t] / open_[t])
        term[t] = 0.5 * hl * hl - (2.0 * _LN2 - 1.0) * co * co
    mean = rolling_sum(term, window) / window
    return np.sqrt(np.maximum(mean, 0.0))


@njit(cache=True, nogil=True)
def yang_zhang(
    open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, window: int
) -> np.ndarray:
    """Yang–Zhang (2000) estimator ``sqrt(σ²_open + k σ²_close + (1 − k) σ²_RS)`` over ``window`` bars with
    ``k = 0.34 / (1.34 + (w + 1)/(w − 1))``; σ²_open and σ²_close are sample variances of ln(O/C₋₁) and
    ln(C/O), σ²_RS the Rogers–Satchell mean. Needs ``window ≥ 2``; first value at bar ``window``."""
    n = high.shape[0]
    out = np.full(n, np.nan)
    if window < 2 or n <= window:
        return out
    # One pass: four logarithms per bar (ln(H/O) = ln(H/C) + ln(C/O), likewise for the low) and rolling
    # sums over ring buffers of the last ``window`` gaps, bodies and Rogers–Satchell terms.
    gaps = np.empty(window)
    bodies = np.empty(window)
    terms = np.empty(window)
    gap_mean = 0.0
    gap_m2 = 0.0
    body_mean = 0.0
    body_m2 = 0.0
    rs_sum = 0.0
    inverse = 1.0 / window
    k = 0.34 / (1.34 + (window + 1.0) / (window - 1.0))
    sample = window / (window - 1.0)
    for t in range(1, n):
        gap = np.log(open_[t] / close[t - 1])
        body = np.log(close[t] / open_[t])
        hc = np.log(high[t] / close[t])
        lc = np.log(low[t] / close[t])
        rs = hc * (hc + body) + lc * (lc + body)
        slot = (t - 1) % window
        if t <= window:  # first window: Welford accumulation
            count = t
            delta = gap - gap_mean
            gap_mean += delta / count
            gap_m2 += delta * (gap - gap_mean)
            delta = body - body_mean
            body_mean += delta / count
            body_m2 += delta * (body - body_mean)
            rs_sum += rs
        else:  # add the new bar, remove the one leaving the window
            old = gaps[slot]
            new_mean = gap_mean + (gap - old) * inverse
            gap_m2 = max(gap_m2 + (gap - old) * (gap - new_mean + old - gap_mean), 0.0)
            gap_mean = new_mean
            old = bodies[slot]
            new_mean = body_mean + (body - old) * inverse
            body_m2 = max(body_m2 + (body - old) * (body - new_mean + old - body_mean), 0.0)
            body_mean = new_mean
            rs_sum += rs - terms[slot]
        gaps[slot] = gap
        bodies[slot] = body
        terms[slot] = rs
        if t >= window:
            total = sample * gap_m2 * inverse + k * sample * body_m2 * inverse + (1.0 - k) * rs_sum * inverse
            out[t] = np.sqrt(max(total, 0.0))
    return out
