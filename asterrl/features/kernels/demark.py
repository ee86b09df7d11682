"""Tom DeMark's TD Sequential (setup, perfection, countdown, TDST levels), TD Combo countdown and the
DeMarker oscillator.

Rules (Jason Perl, *DeMark Indicators*, 2008; DeMark, *The New Science of Technical Analysis*, 1994),
simplified where noted:

* Buy setup: starts after a bearish price flip (``close[t − 1] > close[t − 5]`` and ``close[t] <
  close[t − 4]``), then counts consecutive bars with ``close < close[t − 4]``. It completes on count 9; while
  price keeps qualifying the count goes on (10, 11, …) and never restarts at 1, so a long run is one
  setup. Sell setup mirrors (bullish flip, ``close > close[t − 4]``). Counts are 0 outside a setup.
* Perfection of a buy setup: the low of bar 8 or 9, or of any later bar, is at or below both lows of bars 6
  and 7. Checked from bar 9 until the setup is perfected, cancelled (a close above its highest high) or
  superseded (the next completed setup of either side). Reported as +1 (buy) / −1 (sell) on the bar on
  which perfection occurs, 0 elsewhere.
* TDST: a completed buy setup sets resistance to its highest high (bars 1–9); a completed sell setup sets
  support to its lowest low. NaN until the first such setup.
* Buy countdown starts on the bar 9 of a buy setup (that bar may count): bars with ``close ≤ low[t − 2]``
  count 1…12 (not necessarily consecutive); 13 also needs ``low ≤ close of countdown bar 8`` (otherwise it
  is deferred). It is cancelled by a completed sell setup or a close above the buy setup's highest high,
  restarted by a new completed buy setup (simplified: no size test for recycling), and reset to 0 on the
  bar after 13. Sell side mirrors.
* TD Combo buy countdown starts on bar 1 of a completed buy setup (evaluated when bar 9 completes, so no
  future data is used) and counts bars with ``close ≤ low[t − 2]``, ``low < low[t − 1]``, ``close <
  close[t − 1]`` and a close below the previous counted close, up to 13 (simplified: these strict rules on
  every bar, none of the relaxed ones for bars 11–13). Sell side mirrors.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from asterrl.features.kernels.rolling import sma

SETUP_LOOKBACK = 4


@njit(cache=True, nogil=True)
def _combo_buy_qualifies(high: np.ndarray, low: np.ndarray, close: np.ndarray, t: int, last: float) -> bool:
    return close[t] <= low[t - 2] and low[t] < low[t - 1] and close[t] < close[t - 1] and close[t] < last


@njit(cache=True, nogil=True)
def _combo_sell_qualifies(high: np.ndarray, low: np.ndarray, close: np.ndarray, t: int, last: float) -> bool:
    return close[t] >= high[t - 2] and high[t] > high[t - 1] and close[t] > close[t - 1] and close[t] > last


@njit(cache=True, nogil=True)
def td_sequential(
    high: np.ndarray, low: np.ndarray, close: np.ndarray
) -> tuple[
    np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray
]:
    """TD Sequential and TD Combo. Returns, per bar (NaN for the first 4 bars):
    buy setup count, sell setup count, perfection (+1/−1/0), buy countdown, sell countdown, TDST support,
    TDST resistance (quote currency), buy combo countdown, sell combo countdown."""
    n = close.shape[0]
    buy_setup = np.full(n, np.nan)
    sell_setup = np.full(n, np.nan)
    perfection = np.full(n, np.nan)
    buy_cd = np.full(n, np.nan)
    sell_cd = np.full(n, np.nan)
    support = np.full(n, np.nan)
    resistance = np.full(n, np.nan)
    buy_combo = np.full(n, np.nan)
    sell_combo = np.full(n, np.nan)
    bs = 0
    ss = 0
    bcd = 0
    scd = 0
    bcd_active = False
    scd_active = False
    bcd_bar8 = np.nan
    scd_bar8 = np.nan
    buy_high = np.nan
    sell_low = np.nan
    tdst_support = np.nan
    tdst_resistance = np.nan
    bcombo = 0
    scombo = 0
    bcombo_active = False
    scombo_active = False
    bcombo_last = np.inf
    scombo_last = -np.inf
    # Perfection still awaited, and the level (low of bars 6-7 / high of bars 6-7) that achieves it.
    buy_unperfected = False
    sell_unperfected = False
    buy_perfect_level = np.nan
    sell_perfect_level = np.nan
    for t in range(SETUP_LOOKBACK, n):
        # Setups: a flip starts one, qualifying closes extend it (10, 11, ... after 9), anything else ends it.
        below = close[t] < close[t - SETUP_LOOKBACK]
        above = close[t] > close[t - SETUP_LOOKBACK]
        flip_down = t > SETUP_LOOKBACK and close[t - 1] > close[t - 1 - SETUP_LOOKBACK]
        flip_up = t > SETUP_LOOKBACK and close[t - 1] < close[t - 1 - SETUP_LOOKBACK]
        bs = (bs + 1 if bs > 0 else (1 if flip_down else 0)) if below else 0
        ss = (ss + 1 if ss > 0 else (1 if flip_up else 0)) if above else 0
        perfect = 0.0
        if bs == 9:
            buy_unperfected = True
            buy_perfect_level = min(low[t - 3], low[t - 2])
            sell_unperfected = False
            buy_high = high[t - 8 : t + 1].max()
            tdst_resistance = buy_high
            bcd_active = True
            bcd = 0
            bcd_bar8 = np.nan
            scd_active = False
            scd = 0
            # TD Combo starts on bar 1 of the setup: replay bars t-8..t.
            bcombo_active = True
            bcombo = 0
            bcombo_last = np.inf
            scombo_active = False
            scombo = 0
            for j in range(t - 8, t):
                if j >= 2 and bcombo < 13 and _combo_buy_qualifies(high, low, close, j, bcombo_last):
                    bcombo += 1
                    bcombo_last = close[j]
        if ss == 9:
            sell_unperfected = True
            sell_perfect_level = max(high[t - 3], high[t - 2])
            buy_unperfected = False
            sell_low = low[t - 8 : t + 1].min()
            tdst_support = sell_low
            scd_active = True
            scd = 0
            scd_bar8 = np.nan
            bcd_active = False
            bcd = 0
            scombo_active = True
            scombo = 0
            scombo_last = -np.inf
            bcombo_active = False
            bcombo = 0
            for j in range(t - 8, t):
                if j >= 2 and scombo < 13 and _combo_sell_qualifies(high, low, close, j, scombo_last):
                    scombo += 1
                    scombo_last = close[j]
        # Perfection on bar 9 (bars 8 or 9) or any later bar; a close beyond the setup's extreme cancels it.
        if buy_unperfected and close[t] > buy_high:
            buy_unperfected = False
        if sell_unperfected and close[t] < sell_low:
            sell_unperfected = False
        if buy_unperfected and (low[t] <= buy_perfect_level or (bs == 9 and low[t - 1] <= buy_perfect_level)):
            perfect = 1.0
            buy_unperfected = False
        if sell_unperfected and (
            high[t] >= sell_perfect_level or (ss == 9 and high[t - 1] >= sell_perfect_level)
        ):
            perfect = -1.0
            sell_unperfected = False
        # TD Sequential countdowns.
        if bcd_active and close[t] > buy_high:
            bcd_active = False
            bcd = 0
        if bcd_active and close[t] <= low[t - 2]:
            if bcd < 12:
                bcd += 1
                if bcd == 8:
                    bcd_bar8 = close[t]
            elif low[t] <= bcd_bar8:
                bcd = 13
        if scd_active and close[t] < sell_low:
            scd_active = False
            scd = 0
        if scd_active and close[t] >= high[t - 2]:
            if scd < 12:
                scd += 1
                if scd == 8:
                    scd_bar8 = close[t]
            elif high[t] >= scd_bar8:
                scd = 13
        # TD Combo countdowns.
        if bcombo_active and bcombo < 13 and _combo_buy_qualifies(high, low, close, t, bcombo_last):
            bcombo += 1
            bcombo_last = close[t]
        if scombo_active and scombo < 13 and _combo_sell_qualifies(high, low, close, t, scombo_last):
            scombo += 1
            scombo_last = close[t]
        buy_setup[t] = bs
        sell_setup[t] = ss
        perfection[t] = perfect
        buy_cd[t] = bcd
        sell_cd[t] = scd
        support[t] = tdst_support
        resistance[t] = tdst_resistance
        buy_combo[t] = bcombo
        sell_combo[t] = scombo
        if bcd == 13:
            bcd_active = False
            bcd = 0
        if scd == 13:
            scd_active = False
            scd = 0
        if bcombo == 13:
            bcombo_active = False
            bcombo = 0
        if scombo == 13:
            scombo_active = False
            scombo = 0
    return buy_setup, sell_setup, perfection, buy_cd, sell_cd, support, resistance, buy_combo, sell_combo


@njit(cache=True, nogil=True)
def demarker(high: np.ndarray, low: np.ndarray, period: int) -> np.ndarray:
    """DeMarker oscillator (0–1): SMA(DeMax) / (SMA(DeMax) + SMA(DeMin)) with DeMax = max(H − H₋₁, 0) and
    DeMin = max(L₋₁ − L, 0); 0.5 when the window has no movement. First value at bar ``period``."""
    n = high.shape[0]
    up = np.full(n, np.nan)
    down = np.full(n, np.nan)
    for t in range(1, n):
        up[t] = max(high[t] - high[t - 1], 0.0)
        down[t] = max(low[t - 1] - low[t], 0.0)
    up_mean = sma(up, period)
    down_mean = sma(down, period)
    out = np.full(n, np.nan)
    for t in range(period, n):
        total = up_mean[t] + down_mean[t]
        out[t] = up_mean[t] / total if total > 0.0 else 0.5
    return out
