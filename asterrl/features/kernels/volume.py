"""Volume indicators: on-balance volume, accumulation/distribution, Chaikin oscillator and money flow,
rolling VWAP and the distance to it, and the volume z-score. Volumes in the base asset."""

from __future__ import annotations

import numpy as np
from numba import njit

from asterrl.features.kernels.rolling import rolling_sum, rolling_zscore


@njit(cache=True, nogil=True)
def on_balance_volume(close: np.ndarray, volume: np.ndarray) -> np.ndarray:
    """OBV starting from the first bar's volume; adds volume on up-closes, subtracts on down-closes."""
    n = close.shape[0]
    out = np.empty(n)
    if n == 0:
        return out
    total = volume[0]
    out[0] = total
    for t in range(1, n):
        if close[t] > close[t - 1]:
            total += volume[t]
        elif close[t] < close[t - 1]:
            total -= volume[t]
        out[t] = total
    return out


@njit(cache=True, nogil=True)
def _money_flow_volume(high: float, low: float, close: float, volume: float) -> float:
    span = high - low
    if span > 0.0:
        return (((close - low) - (high - close)) / span) * volume
    return 0.0


@njit(cache=True, nogil=True)
def accumulation_distribution(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray
) -> np.ndarray:
    """Chaikin accumulation/distribution line: cumulative close-location value × volume."""
    n = close.shape[0]
    out = np.empty(n)
    total = 0.0
    for t in range(n):
        total += _money_flow_volume(high[t], low[t], close[t], volume[t])
        out[t] = total
    return out


@njit(cache=True, nogil=True)
def chaikin_oscillator(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray, fast: int, slow: int
) -> np.ndarray:
    """EMA(A/D, fast) − EMA(A/D, slow), both EMAs seeded with the first A/D value; from bar
    ``max(fast, slow) − 1``."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    if n == 0:
        return out
    fast_k = 2.0 / (fast + 1.0)
    slow_k = 2.0 / (slow + 1.0)
    start = max(fast, slow) - 1
    total = _money_flow_volume(high[0], low[0], close[0], volume[0])
    fast_ema = total
    slow_ema = total
    if start == 0:
        out[0] = 0.0
    for t in range(1, n):
        total += _money_flow_volume(high[t], low[t], close[t], volume[t])
        fast_ema = (fast_k * total) + ((1.0 - fast_k) * fast_ema)
        slow_ema = (slow_k * total) + ((1.0 - slow_k) * slow_ema)
        if t >= start:
            out[t] = fast_ema - slow_ema
    return out


@njit(cache=True, nogil=True)
def chaikin_money_flow(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray, window: int
) -> np.ndarray:
    """Σ money-flow volume / Σ volume over ``window`` bars (−1 to 1); 0 when nothing traded."""
    n = close.shape[0]
    flow = np.empty(n)
    for t in range(n):
        flow[t] = _money_flow_volume(high[t], low[t], close[t], volume[t])
    flow_sum = rolling_sum(flow, window)
    volume_sum = rolling_sum(volume, window)
    out = np.full(n, np.nan)
    for t in range(window - 1, n):
        out[t] = flow_sum[t] / volume_sum[t] if volume_sum[t] > 0.0 else 0.0
    return out


@njit(cache=True, nogil=True)
def rolling_vwap(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray, window: int
) -> tuple[np.ndarray, np.ndarray]:
    """Volume-weighted typical price (H + L + C)/3 over ``window`` bars and the close's distance to it,
    ``close / vwap − 1``. With no volume in the window the VWAP is the plain mean typical price."""
    n = close.shape[0]
    typical = (high + low + close) / 3.0
    notional_sum = rolling_sum(typical * volume, window)
    volume_sum = rolling_sum(volume, window)
    typical_sum = rolling_sum(typical, window)
    vwap = np.full(n, np.nan)
    distance = np.full(n, np.nan)
    for t in range(window - 1, n):
        vwap[t] = notional_sum[t] / volume_sum[t] if volume_sum[t] > 0.0 else typical_sum[t] / window
        distance[t] = close[t] / vwap[t] - 1.0
    return vwap, distance


@njit(cache=True, nogil=True)
def volume_zscore(volume: np.ndarray, window: int) -> np.ndarray:
    """(volume − rolling mean) / rolling population std over ``window`` bars; 0 on a constant window."""
    return rolling_zscore(volume, window)
