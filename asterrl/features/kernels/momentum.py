"""Momentum oscillators: RSI, stochastics, Williams %R, CCI, ROC, momentum, TRIX, Ultimate Oscillator
and MFI. Oscillators are in points (0–100, or −100–0 for %R); ROC and TRIX in percent."""

from __future__ import annotations

import numpy as np
from numba import njit

from asterrl.features.kernels.rolling import ema, first_valid, rolling_max, rolling_min, sma


@njit(cache=True, nogil=True)
def rsi(x: np.ndarray, period: int) -> np.ndarray:
    """Wilder's RSI: average gain and loss seeded by their simple means over the first ``period`` changes,
    then Wilder-smoothed; from bar ``first valid + period``. A flat window gives 50."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    start = first_valid(x)
    if period < 1 or n - start <= period:
        return out
    gain = 0.0
    loss = 0.0
    for t in range(start + 1, start + period + 1):
        change = x[t] - x[t - 1]
        if change < 0.0:
            loss -= change
        else:
            gain += change
    gain /= period
    loss /= period
    # Multiplying by 1/period rather than dividing shortens the dependency chain; each value moves by at
    # most an ulp and Wilder's smoothing does not accumulate such differences.
    inverse = 1.0 / period
    for t in range(start + period, n):
        if t > start + period:
            change = x[t] - x[t - 1]
            gain = (gain * (period - 1) + max(change, 0.0)) * inverse
            loss = (loss * (period - 1) + max(-change, 0.0)) * inverse
        total = gain + loss
        out[t] = 100.0 * (gain / total) if total != 0.0 else 50.0
    return out


@njit(cache=True, nogil=True)
def fast_stochastic(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int) -> np.ndarray:
    """Raw %K: where the close sits in the ``period``-bar high–low range, in points (0 on a flat range)."""
    n = close.shape[0]
    highest = rolling_max(high, period)
    lowest = rolling_min(low, period)
    out = np.full(n, np.nan)
    for t in range(n):
        if np.isnan(highest[t]):
            continue
        scale = (highest[t] - lowest[t]) / 100.0
        out[t] = (close[t] - lowest[t]) / scale if scale != 0.0 else 0.0
    return out


@njit(cache=True, nogil=True)
def stochastic(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, k_period: int, k_smooth: int, d_period: int
) -> tuple[np.ndarray, np.ndarray]:
    """Slow stochastic: %K = SMA(raw %K, k_smooth), %D = SMA(%K, d_period)."""
    k = sma(fast_stochastic(high, low, close, k_period), k_smooth)
    return k, sma(k, d_period)


@njit(cache=True, nogil=True)
def stochastic_rsi(
    x: np.ndarray, rsi_period: int, k_period: int, d_period: int
) -> tuple[np.ndarray, np.ndarray]:
    """Stochastic of RSI: %K = position of RSI in its ``k_period`` range, %D = SMA(%K, d_period)."""
    values = rsi(x, rsi_period)
    k = fast_stochastic(values, values, values, k_period)
    return k, sma(k, d_period)


@njit(cache=True, nogil=True)
def williams_r(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int) -> np.ndarray:
    """Williams %R in points, −100 (close at the low) to 0 (at the high); 0 on a flat range."""
    n = close.shape[0]
    highest = rolling_max(high, period)
    lowest = rolling_min(low, period)
    out = np.full(n, np.nan)
    for t in range(n):
        if np.isnan(highest[t]):
            continue
        scale = (highest[t] - lowest[t]) / -100.0
        out[t] = (highest[t] - close[t]) / scale if scale != 0.0 else 0.0
    return out


# The window sums may be reassociated (SIMD): over a short window that moves CCI by a few ulps of the
# typical price, far inside the 1e-9 parity with TA-Lib.
@njit(cache=True, nogil=True, fastmath={"reassoc", "nsz"})
def cci(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int) -> np.ndarray:
    """Commodity Channel Index: (TP − SMA(TP)) / (0.015 · mean absolute deviation), TP = (H + L + C)/3."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    if period < 1 or n < period:
        return out
    typical = np.empty(n)
    for t in range(n):
        typical[t] = (high[t] + low[t] + close[t]) / 3.0
    for t in range(period - 1, n):
        window = typical[t - period + 1 : t + 1]
        average = 0.0
        for j in range(period):
            average += window[j]
        average /= period
        deviation = 0.0
        for j in range(period):
            deviation += abs(window[j] - average)
        distance = typical[t] - average
        if distance != 0.0 and deviation != 0.0:
            out[t] = distance / (0.015 * (deviation / period))
        else:
            out[t] = 0.0
    return out


@njit(cache=True, nogil=True)
def rate_of_change(x: np.ndarray, period: int) -> np.ndarray:
    """Percent change over ``period`` bars."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    for t in range(period, n):
        out[t] = ((x[t] / x[t - period]) - 1.0) * 100.0 if x[t - period] != 0.0 else 0.0
    return out


@njit(cache=True, nogil=True)
def momentum(x: np.ndarray, period: int) -> np.ndarray:
    """Price change over ``period`` bars, quote currency."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    for t in range(period, n):
        out[t] = x[t] - x[t - period]
    return out


@njit(cache=True, nogil=True)
def trix(x: np.ndarray, period: int) -> np.ndarray:
    """TRIX: one-bar percent change of the triple EMA; from bar ``3·(period − 1) + 1``."""
    triple = ema(ema(ema(x, period), period), period)
    n = x.shape[0]
    out = np.full(n, np.nan)
    for t in range(first_valid(triple) + 1, n):
        out[t] = ((triple[t] / triple[t - 1]) - 1.0) * 100.0 if triple[t - 1] != 0.0 else 0.0
    return out


@njit(cache=True, nogil=True)
def ultimate_oscillator(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, short: int, medium: int, long: int
) -> np.ndarray:
    """Williams' Ultimate Oscillator: buying pressure over true range averaged over three windows with
    weights 4:2:1 (shortest heaviest), in points; from bar ``longest window``."""
    periods = np.sort(np.array([short, medium, long]))
    n = close.shape[0]
    out = np.full(n, np.nan)
    longest = periods[2]
    if n <= longest:
        return out
    pressure = np.zeros(n)
    ranges = np.zeros(n)
    for t in range(1, n):
        true_low = min(low[t], close[t - 1])
        pressure[t] = close[t] - true_low
        ranges[t] = max(high[t], close[t - 1]) - true_low
    sums_p = np.zeros(3)
    sums_r = np.zeros(3)
    for k in range(3):
        for t in range(longest - periods[k] + 1, longest):
            sums_p[k] += pressure[t]
            sums_r[k] += ranges[t]
    weights = (4.0, 2.0, 1.0)
    for t in range(longest, n):
        value = 0.0
        for k in range(3):
            sums_p[k] += pressure[t]
            sums_r[k] += ranges[t]
            if abs(sums_r[k]) >= 1e-8:
                value += weights[k] * (sums_p[k] / sums_r[k])
            sums_p[k] -= pressure[t - periods[k] + 1]
            sums_r[k] -= ranges[t - periods[k] + 1]
        out[t] = 100.0 * (value / 7.0)
    return out


@njit(cache=True, nogil=True)
def money_flow_index(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray, period: int
) -> np.ndarray:
    """Money Flow Index: share of rising-typical-price money flow (TP × volume) over ``period`` bars, in
    points; 50 when no volume traded in the window."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    if n <= period:
        return out
    positive = np.zeros(n)
    negative = np.zeros(n)
    previous = (high[0] + low[0] + close[0]) / 3.0
    for t in range(1, n):
        typical = (high[t] + low[t] + close[t]) / 3.0
        flow = typical * volume[t]
        if typical > previous:
            positive[t] = flow
        elif typical < previous:
            negative[t] = flow
        previous = typical
    pos_sum = 0.0
    neg_sum = 0.0
    for t in range(1, n):
        pos_sum += positive[t]
        neg_sum += negative[t]
        if t > period:
            pos_sum -= positive[t - period]
            neg_sum -= negative[t - period]
        if t >= period:
            total = pos_sum + neg_sum
            out[t] = 100.0 * (pos_sum / total) if total > 0.0 else 50.0
    return out
