"""Context features: funding (last settled rate, its rolling mean, time to the next settlement), the cyclic
time of day and week, and cross-asset relations to a reference symbol."""

from __future__ import annotations

import numpy as np
from numba import njit

from asterrl.features.kernels.rolling import rolling_corr_beta, simple_returns

_MS_PER_HOUR = 3_600_000.0
_MS_PER_DAY = 86_400_000
#: 1970-01-01 was a Thursday; shifting by 3 days makes Monday day 0.
_EPOCH_WEEKDAY_SHIFT = 3
_DEFAULT_FUNDING_GAP_MS = 8 * 3_600_000


@njit(cache=True, nogil=True)
def funding_features(
    bar_close_ms: np.ndarray, funding_ms: np.ndarray, funding_rate: np.ndarray, mean_count: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per bar, using only settlements with timestamp ≤ the bar's close time:
    the last settled rate (decimal per interval), the mean of the last ``mean_count`` settled rates (fewer
    while history is short) and the hours from the bar's close to the next expected settlement (last
    settlement + last observed gap, stepped forward past the close; 8 h gap until two are known).
    NaN before the first settlement. ``funding_ms`` must be sorted ascending."""
    n = bar_close_ms.shape[0]
    rate = np.full(n, np.nan)
    mean = np.full(n, np.nan)
    hours = np.full(n, np.nan)
    m = funding_ms.shape[0]
    cumulative = np.zeros(m + 1)
    for j in range(m):
        cumulative[j + 1] = cumulative[j] + funding_rate[j]
    j = -1
    for t in range(n):
        close_ms = bar_close_ms[t]
        while j + 1 < m and funding_ms[j + 1] <= close_ms:
            j += 1
        if j < 0:
            continue
        rate[t] = funding_rate[j]
        first = max(0, j + 1 - mean_count)
        mean[t] = (cumulative[j + 1] - cumulative[first]) / (j + 1 - first)
        gap = funding_ms[j] - funding_ms[j - 1] if j >= 1 else _DEFAULT_FUNDING_GAP_MS
        if gap <= 0:
            gap = _DEFAULT_FUNDING_GAP_MS
        next_ms = funding_ms[j] + gap
        if next_ms <= close_ms:
            next_ms += ((close_ms - next_ms) // gap + 1) * gap
        hours[t] = (next_ms - close_ms) / _MS_PER_HOUR
    return rate, mean, hours


#: Slots of the direct-mapped memo of ``_cyclic`` (a power of two; enough for minute bars over a day).
_MEMO_SLOTS = 4096


@njit(cache=True, nogil=True)
def _cyclic(timestamp_ms: np.ndarray, offset_ms: int, period_ms: int) -> tuple[np.ndarray, np.ndarray]:
    """sin and cos of 2π · ((t + offset) mod period) / period for each timestamp t (ms).

    Bars repeat a handful of phases (24 per day for hourly bars), so each distinct phase's sin/cos is kept
    in a small direct-mapped memo; a bar whose phase is in the memo costs a lookup, not two trig calls.
    """
    n = timestamp_ms.shape[0]
    s = np.empty(n)
    c = np.empty(n)
    keys = np.full(_MEMO_SLOTS, -1, dtype=np.int64)
    sines = np.empty(_MEMO_SLOTS)
    cosines = np.empty(_MEMO_SLOTS)
    scale = 2.0 * np.pi / period_ms
    for t in range(n):
        phase = (timestamp_ms[t] + offset_ms) % period_ms
        slot = (phase ^ (phase >> 17) ^ (phase >> 29)) & (_MEMO_SLOTS - 1)
        if keys[slot] != phase:
            angle = phase * scale
            keys[slot] = phase
            sines[slot] = np.sin(angle)
            cosines[slot] = np.cos(angle)
        s[t] = sines[slot]
        c[t] = cosines[slot]
    return s, c


@njit(cache=True, nogil=True)
def hour_of_day(timestamp_ms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """sin and cos of 2π · (UTC hour + minute/60) / 24 at the bar's open time."""
    return _cyclic(timestamp_ms, 0, _MS_PER_DAY)


@njit(cache=True, nogil=True)
def day_of_week(timestamp_ms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """sin and cos of 2π · (UTC weekday, Monday = 0, plus the fraction of the day) / 7 at the bar's open."""
    return _cyclic(timestamp_ms, _EPOCH_WEEKDAY_SHIFT * _MS_PER_DAY, 7 * _MS_PER_DAY)


@njit(cache=True, nogil=True)
def correlation_beta(
    close: np.ndarray, reference_close: np.ndarray, window: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rolling correlation of one-bar simple returns with the reference's, and the beta of the asset to the
    reference ``cov(r, r_ref) / var(r_ref)``, over ``window`` bars; from bar ``window``."""
    return rolling_corr_beta(simple_returns(close), simple_returns(reference_close), window)


@njit(cache=True, nogil=True)
def relative_strength(close: np.ndarray, reference_close: np.ndarray, window: int) -> np.ndarray:
    """Log return of the asset minus that of the reference over ``window`` bars."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    for t in range(window, n):
        out[t] = np.log(close[t] / close[t - window]) - np.log(
            reference_close[t] / reference_close[t - window]
        )
    return out
