"""Trend indicators: double/triple EMA, KAMA, MACD, directional movement (ADX, +DI, −DI), Aroon, Parabolic
SAR, Ichimoku and SuperTrend. Prices in quote currency; oscillators in points (0–100) unless stated."""

from __future__ import annotations

import numpy as np
from numba import njit

from asterrl.features.kernels.rolling import (
    ema,
    first_valid,
    rolling_extreme,
    rolling_max,
    rolling_min,
)
from asterrl.features.kernels.volatility import atr


@njit(cache=True, nogil=True)
def dema(x: np.ndarray, period: int) -> np.ndarray:
    """Double EMA ``2·EMA − EMA(EMA)``; first value at ``2·(period − 1)``."""
    e1 = ema(x, period)
    e2 = ema(e1, period)
    out = np.full(x.shape[0], np.nan)
    for i in range(first_valid(e2), x.shape[0]):
        out[i] = (2.0 * e1[i]) - e2[i]
    return out


@njit(cache=True, nogil=True)
def tema(x: np.ndarray, period: int) -> np.ndarray:
    """Triple EMA ``3·E1 − 3·E2 + E3``; first value at ``3·(period − 1)``."""
    e1 = ema(x, period)
    e2 = ema(e1, period)
    e3 = ema(e2, period)
    out = np.full(x.shape[0], np.nan)
    for i in range(first_valid(e3), x.shape[0]):
        out[i] = e3[i] + ((3.0 * e1[i]) - (3.0 * e2[i]))
    return out


@njit(cache=True, nogil=True)
def kama(x: np.ndarray, period: int, fast: int, slow: int) -> np.ndarray:
    """Kaufman adaptive moving average: the efficiency ratio over ``period`` bars scales the smoothing
    between ``2/(fast+1)`` and ``2/(slow+1)`` (squared). Seeded with the close at ``period − 1``."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    if period < 1 or n <= period:
        return out
    fast_sc = 2.0 / (fast + 1.0)
    slow_sc = 2.0 / (slow + 1.0)
    diff_sc = fast_sc - slow_sc
    volatility = 0.0
    for i in range(period - 1):
        volatility += abs(x[i] - x[i + 1])
    prev = x[period - 1]
    for t in range(period, n):
        volatility += abs(x[t] - x[t - 1])
        if t > period:
            volatility -= abs(x[t - period] - x[t - period - 1])
        change = x[t] - x[t - period]
        ratio = 1.0 if volatility <= change or volatility == 0.0 else abs(change / volatility)
        sc = ratio * diff_sc + slow_sc
        sc *= sc
        prev = ((x[t] - prev) * sc) + prev
        out[t] = prev
    return out


@njit(cache=True, nogil=True)
def macd(x: np.ndarray, fast: int, slow: int, signal: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MACD line (fast EMA − slow EMA), its signal EMA and the histogram (line − signal).

    Both EMAs are seeded at bar ``slow − 1`` (TA-Lib's alignment); all three outputs start at
    ``slow + signal − 2``.
    """
    if slow < fast:
        fast, slow = slow, fast
    n = x.shape[0]
    line = np.full(n, np.nan)
    sig = np.full(n, np.nan)
    hist = np.full(n, np.nan)
    seed = slow - 1
    first = seed + signal - 1
    if fast < 1 or signal < 1 or n <= first or first_valid(x) > 0:
        return line, sig, hist
    # One pass over the three EMAs (same arithmetic as ``ema_seeded_at``, run side by side).
    fast_alpha = 2.0 / (fast + 1.0)
    slow_alpha = 2.0 / (slow + 1.0)
    signal_alpha = 2.0 / (signal + 1.0)
    fast_ema = 0.0
    for i in range(seed - fast + 1, seed + 1):
        fast_ema += x[i]
    fast_ema /= fast
    slow_ema = 0.0
    for i in range(0, seed + 1):
        slow_ema += x[i]
    slow_ema /= slow
    signal_ema = fast_ema - slow_ema
    for t in range(seed + 1, n):
        fast_ema = ((x[t] - fast_ema) * fast_alpha) + fast_ema
        slow_ema = ((x[t] - slow_ema) * slow_alpha) + slow_ema
        raw = fast_ema - slow_ema
        if t < first:
            signal_ema += raw
            continue
        if t == first:
            signal_ema = (signal_ema + raw) / signal
        else:
            signal_ema = ((raw - signal_ema) * signal_alpha) + signal_ema
        line[t] = raw
        sig[t] = signal_ema
        hist[t] = raw - signal_ema
    if first == seed:  # signal period 1: the signal is the line itself
        line[seed] = signal_ema
        sig[seed] = signal_ema
        hist[seed] = 0.0
    return line, sig, hist


@njit(cache=True, nogil=True)
def _true_range(high: float, low: float, prev_close: float) -> float:
    tr = high - low
    up = abs(prev_close - high)
    if up > tr:
        tr = up
    down = abs(prev_close - low)
    if down > tr:
        tr = down
    return tr


@njit(cache=True, nogil=True)
def dmi(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Wilder's directional movement: (+DI, −DI, ADX) in points.

    +DM/−DM and true range are summed over ``period − 1`` bars, then Wilder-smoothed; DI starts at bar
    ``period`` and ADX (the Wilder average of DX) at ``2·period − 1``, as in TA-Lib.
    """
    n = high.shape[0]
    plus_di = np.full(n, np.nan)
    minus_di = np.full(n, np.nan)
    adx = np.full(n, np.nan)
    if period < 2 or n <= period:
        return plus_di, minus_di, adx
    eps = 1e-8
    plus_dm = 0.0
    minus_dm = 0.0
    tr_sum = 0.0
    dx_sum = 0.0
    prev_adx = 0.0
    for t in range(1, n):
        up = high[t] - high[t - 1]
        down = low[t - 1] - low[t]
        tr = _true_range(high[t], low[t], close[t - 1])
        if t >= period:
            plus_dm -= plus_dm / period
            minus_dm -= minus_dm / period
            tr_sum = tr_sum - (tr_sum / period)
        if down > 0.0 and up < down:
            minus_dm += down
        elif up > 0.0 and up > down:
            plus_dm += up
        tr_sum += tr
        if t < period:
            continue
        if abs(tr_sum) >= eps:
            p = 100.0 * (plus_dm / tr_sum)
            m = 100.0 * (minus_dm / tr_sum)
        else:
            p = 0.0
            m = 0.0
        plus_di[t] = p
        minus_di[t] = m
        total = p + m
        valid = abs(tr_sum) >= eps and abs(total) >= eps
        dx = 100.0 * (abs(m - p) / total) if valid else 0.0
        if t < 2 * period - 1:
            dx_sum += dx
        elif t == 2 * period - 1:
            dx_sum += dx
            prev_adx = dx_sum / period
            adx[t] = prev_adx
        else:
            if valid:
                prev_adx = ((prev_adx * (period - 1)) + dx) / period
            adx[t] = prev_adx
    return plus_di, minus_di, adx


@njit(cache=True, nogil=True)
def aroon(high: np.ndarray, low: np.ndarray, period: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Aroon up, down and oscillator in points: how recently (within ``period + 1`` bars) the high/low was
    made. Ties go to the most recent bar."""
    n = high.shape[0]
    up = np.full(n, np.nan)
    down = np.full(n, np.nan)
    osc = np.full(n, np.nan)
    _, hi_idx = rolling_extreme(high, period + 1, True)
    _, lo_idx = rolling_extreme(low, period + 1, False)
    factor = 100.0 / period
    for t in range(period, n):
        up[t] = factor * (period - (t - hi_idx[t]))
        down[t] = factor * (period - (t - lo_idx[t]))
        osc[t] = up[t] - down[t]
    return up, down, osc


@njit(cache=True, nogil=True)
def parabolic_sar(high: np.ndarray, low: np.ndarray, acceleration: float, maximum: float) -> np.ndarray:
    """Wilder's Parabolic SAR (stop level for bar t, reversal checked against bar t's range); TA-Lib's
    start: the first direction is short when bar 1 has a larger down-move than up-move."""
    n = high.shape[0]
    out = np.full(n, np.nan)
    if n < 2:
        return out
    af = min(acceleration, maximum)
    up_move = high[1] - high[0]
    down_move = low[0] - low[1]
    is_long = not (down_move > 0.0 and up_move < down_move)
    if is_long:
        ep = high[1]
        sar = low[0]
    else:
        ep = low[1]
        sar = high[0]
    new_low = low[1]
    new_high = high[1]
    for t in range(1, n):
        prev_low = new_low
        prev_high = new_high
        new_low = low[t]
        new_high = high[t]
        if is_long:
            if new_low <= sar:
                is_long = False
                sar = max(ep, prev_high, new_high)
                out[t] = sar
                af = acceleration
                ep = new_low
                sar = max(sar + af * (ep - sar), prev_high, new_high)
            else:
                out[t] = sar
                if new_high > ep:
                    ep = new_high
                    af = min(af + acceleration, maximum)
                sar = min(sar + af * (ep - sar), prev_low, new_low)
        else:
            if new_high >= sar:
                is_long = True
                sar = min(ep, prev_low, new_low)
                out[t] = sar
                af = acceleration
                ep = new_high
                sar = min(sar + af * (ep - sar), prev_low, new_low)
            else:
                out[t] = sar
                if new_low < ep:
                    ep = new_low
                    af = min(af + acceleration, maximum)
                sar = max(sar + af * (ep - sar), prev_high, new_high)
    return out


@njit(cache=True, nogil=True)
def ichimoku(
    high: np.ndarray, low: np.ndarray, tenkan: int, kijun: int, senkou: int, displacement: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Ichimoku conversion (tenkan), base (kijun) and the cloud spans A and B *as they stand at bar t*,
    i.e. computed ``displacement`` bars earlier. The lagging span (close plotted in the past) is omitted:
    its value at t would be a future close."""
    n = high.shape[0]
    conv = (rolling_max(high, tenkan) + rolling_min(low, tenkan)) / 2.0
    base = (rolling_max(high, kijun) + rolling_min(low, kijun)) / 2.0
    span_b_now = (rolling_max(high, senkou) + rolling_min(low, senkou)) / 2.0
    span_a = np.full(n, np.nan)
    span_b = np.full(n, np.nan)
    for t in range(displacement, n):
        span_a[t] = (conv[t - displacement] + base[t - displacement]) / 2.0
        span_b[t] = span_b_now[t - displacement]
    return conv, base, span_a, span_b


@njit(cache=True, nogil=True)
def supertrend(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int, multiplier: float
) -> tuple[np.ndarray, np.ndarray]:
    """SuperTrend line and direction (+1 up: line is the lower band; −1 down: the upper band).

    Bands are ``(high + low)/2 ± multiplier·ATR(period)``; a band only tightens while price stays on its
    side. The first valid bar starts in a downtrend unless it closes above the upper band.
    """
    n = high.shape[0]
    line = np.full(n, np.nan)
    direction = np.full(n, np.nan)
    average_range = atr(high, low, close, period)
    start = first_valid(average_range)
    if start >= n:
        return line, direction
    upper = 0.0
    lower = 0.0
    up = False
    for t in range(start, n):
        mid = (high[t] + low[t]) / 2.0
        basic_upper = mid + multiplier * average_range[t]
        basic_lower = mid - multiplier * average_range[t]
        if t == start:
            upper = basic_upper
            lower = basic_lower
            up = close[t] > upper
        else:
            if basic_upper < upper or close[t - 1] > upper:
                upper = basic_upper
            if basic_lower > lower or close[t - 1] < lower:
                lower = basic_lower
            if up and close[t] < lower:
                up = False
            elif not up and close[t] > upper:
                up = True
        line[t] = lower if up else upper
        direction[t] = 1.0 if up else -1.0
    return line, direction
