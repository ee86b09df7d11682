"""Volatility: true range, ATR/NATR, Bollinger, Keltner and Donchian channels, and per-bar volatility
estimators (close-to-close, Parkinson, Garman–Klass, Yang–Zhang) as fractions of price, not annualised."""

from __future__ import annotations

import numpy as np
from numba import njit

from asterrl.features.kernels.rolling import ema, rolling_max, rolling_mean_var, rolling_min, rolling_sum, sma

_LN2 = np.log(2.0)


@njit(cache=True)
def true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """Wilder's true range, quote currency; NaN at bar 0 (no previous close)."""
    n = high.shape[0]
    out = np.full(n, np.nan)
    for t in range(1, n):
        out[t] = max(high[t], close[t - 1]) - min(low[t], close[t - 1])
    return out


@njit(cache=True)
def atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int) -> np.ndarray:
    """Average true range (Wilder smoothing seeded by the SMA of the first ``period`` ranges); from bar
    ``period``."""
    tr = true_range(high, low, close)
    n = high.shape[0]
    out = np.full(n, np.nan)
    if period < 1 or n <= period:
        return out
    total = 0.0
    for t in range(1, period + 1):
        total += tr[t]
    prev = total / period
    out[period] = prev
    for t in range(period + 1, n):
        prev = ((prev * (period - 1)) + tr[t]) / period
        out[t] = prev
    return out


@njit(cache=True)
def natr(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int) -> np.ndarray:
    """ATR as a percentage of the close."""
    values = atr(high, low, close, period)
    out = np.full(high.shape[0], np.nan)
    for t in range(period, high.shape[0]):
        out[t] = (values[t] / close[t]) * 100.0 if close[t] != 0.0 else 0.0
    return out


@njit(cache=True)
def bollinger(
    x: np.ndarray, period: int, width: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Bollinger bands ``SMA ± width·σ`` (population σ over ``period``), %B ``(x − lower)/(upper − lower)``
    (0.5 on a flat window) and band width ``(upper − lower)/middle``."""
    n = x.shape[0]
    middle = sma(x, period)
    _, var = rolling_mean_var(x, period)
    upper = np.full(n, np.nan)
    lower = np.full(n, np.nan)
    pctb = np.full(n, np.nan)
    bandwidth = np.full(n, np.nan)
    for t in range(n):
        if np.isnan(middle[t]):
            continue
        deviation = width * np.sqrt(var[t])
        upper[t] = middle[t] + deviation
        lower[t] = middle[t] - deviation
        span = upper[t] - lower[t]
        pctb[t] = (x[t] - lower[t]) / span if span > 0.0 else 0.5
        bandwidth[t] = span / middle[t] if middle[t] != 0.0 else 0.0
    return upper, middle, lower, pctb, bandwidth


@njit(cache=True)
def keltner(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int, atr_period: int, multiplier: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keltner channel: EMA(close, period) ± multiplier·ATR(atr_period)."""
    middle = ema(close, period)
    width = multiplier * atr(high, low, close, atr_period)
    return middle + width, middle, middle - width


@njit(cache=True)
def donchian(high: np.ndarray, low: np.ndarray, period: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Donchian channel: highest high, midpoint and lowest low of the last ``period`` bars."""
    upper = rolling_max(high, period)
    lower = rolling_min(low, period)
    return upper, (upper + lower) / 2.0, lower


@njit(cache=True)
def realized_volatility(close: np.ndarray, window: int) -> np.ndarray:
    """Root mean square of the last ``window`` one-bar log returns (per bar)."""
    n = close.shape[0]
    squared = np.full(n, np.nan)
    for t in range(1, n):
        r = np.log(close[t] / close[t - 1])
        squared[t] = r * r
    return np.sqrt(rolling_sum(squared, window) / window)


@njit(cache=True)
def parkinson(high: np.ndarray, low: np.ndarray, window: int) -> np.ndarray:
    """Parkinson (1980) range estimator ``sqrt(Σ ln(H/L)² / (4 ln2 · window))`` (per bar)."""
    n = high.shape[0]
    term = np.empty(n)
    for t in range(n):
        hl = np.log(high[t] / low[t])
        term[t] = hl * hl
    return np.sqrt(rolling_sum(term, window) / (4.0 * _LN2 * window))


@njit(cache=True)
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


@njit(cache=True)
def yang_zhang(
    open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, window: int
) -> np.ndarray:
    """Yang–Zhang (2000) estimator ``sqrt(σ²_open + k σ²_close + (1 − k) σ²_RS)`` over ``window`` bars with
    ``k = 0.34 / (1.34 + (w + 1)/(w − 1))``; σ²_open and σ²_close are sample variances of ln(O/C₋₁) and
    ln(C/O), σ²_RS the Rogers–Satchell mean. Needs ``window ≥ 2``; first value at bar ``window``."""
    n = high.shape[0]
    out = np.full(n, np.nan)
    if window < 2:
        return out
    gap = np.full(n, np.nan)
    body = np.full(n, np.nan)
    rs = np.full(n, np.nan)
    for t in range(1, n):
        gap[t] = np.log(open_[t] / close[t - 1])
        body[t] = np.log(close[t] / open_[t])
        hc = np.log(high[t] / close[t])
        ho = np.log(high[t] / open_[t])
        lc = np.log(low[t] / close[t])
        lo = np.log(low[t] / open_[t])
        rs[t] = hc * ho + lc * lo
    _, var_gap = rolling_mean_var(gap, window)
    _, var_body = rolling_mean_var(body, window)
    rs_mean = rolling_sum(rs, window) / window
    k = 0.34 / (1.34 + (window + 1.0) / (window - 1.0))
    sample = window / (window - 1.0)
    for t in range(window, n):
        total = sample * var_gap[t] + k * sample * var_body[t] + (1.0 - k) * rs_mean[t]
        out[t] = np.sqrt(max(total, 0.0))
    return out
