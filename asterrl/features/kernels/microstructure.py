"""Liquidity and spread estimates from bars: Amihud illiquidity, Roll and Corwin–Schultz spreads, a Kyle's
lambda proxy and taker-buy imbalance. Spreads are fractions of price (0.001 = 10 bps)."""

from __future__ import annotations

import numpy as np
from numba import njit

from asterrl.features.kernels.rolling import rolling_sum

#: Illiquidity measures are expressed per one million USDT of traded notional.
PER_MILLION = 1e6


@njit(cache=True, nogil=True)
def amihud_illiquidity(close: np.ndarray, volume: np.ndarray, window: int) -> np.ndarray:
    """Amihud (2002): mean over the last ``window`` bars of |log return| / quote notional (close × volume),
    per million USDT. Bars with no volume are left out of the mean; 0 if the whole window is empty."""
    n = close.shape[0]
    ratio = np.full(n, np.nan)
    traded = np.full(n, np.nan)
    for t in range(1, n):
        notional = close[t] * volume[t]
        if notional > 0.0:
            ratio[t] = abs(np.log(close[t] / close[t - 1])) / notional * PER_MILLION
            traded[t] = 1.0
        else:
            ratio[t] = 0.0
            traded[t] = 0.0
    total = rolling_sum(ratio, window)
    count = rolling_sum(traded, window)
    out = np.full(n, np.nan)
    for t in range(window, n):
        out[t] = total[t] / count[t] if count[t] > 0.0 else 0.0
    return out


@njit(cache=True, nogil=True)
def roll_spread(close: np.ndarray, window: int) -> np.ndarray:
    """Roll (1984): ``2·sqrt(−cov(Δp_t, Δp_{t−1}))`` over the last ``window`` pairs of log-price changes;
    0 when the autocovariance is not negative. First value at bar ``window + 1``."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    if n < window + 2:
        return out
    change = np.zeros(n)
    for t in range(1, n):
        change[t] = np.log(close[t] / close[t - 1])
    sx = 0.0
    sy = 0.0
    sxy = 0.0
    for t in range(2, n):
        a = change[t]
        b = change[t - 1]
        sx += a
        sy += b
        sxy += a * b
        if t >= window + 2:
            a = change[t - window]
            b = change[t - window - 1]
            sx -= a
            sy -= b
            sxy -= a * b
        if t >= window + 1:
            cov = sxy / window - (sx / window) * (sy / window)
            out[t] = 2.0 * np.sqrt(-cov) if cov < 0.0 else 0.0
    return out


@njit(cache=True, nogil=True)
def corwin_schultz_spread(high: np.ndarray, low: np.ndarray, window: int) -> np.ndarray:
    """Corwin & Schultz (2012) high–low spread from each pair of adjacent bars (negative estimates set to 0),
    averaged over the last ``window`` pairs. First value at bar ``window``."""
    n = high.shape[0]
    out = np.full(n, np.nan)
    if window < 1 or n <= window:
        return out
    # α = (√(2β) − √β)/(3 − 2√2) − √(γ/(3 − 2√2)) = √β·(√2 − 1)/(3 − 2√2) − |g|/√(3 − 2√2), and the
    # spread 2(e^α − 1)/(1 + e^α) needs e^α once; ln(H/L) of bar t is reused as the previous bar's at t+1.
    denominator = 3.0 - 2.0 * np.sqrt(2.0)
    beta_scale = (np.sqrt(2.0) - 1.0) / denominator
    gamma_scale = 1.0 / np.sqrt(denominator)
    recent = np.empty(window)
    total = 0.0
    previous = np.log(high[0] / low[0])
    for t in range(1, n):
        a = np.log(high[t] / low[t])
        beta = a * a + previous * previous
        previous = a
        g = abs(np.log(max(high[t], high[t - 1]) / min(low[t], low[t - 1])))
        growth = np.exp(np.sqrt(beta) * beta_scale - g * gamma_scale)
        spread = max(2.0 * (growth - 1.0) / (1.0 + growth), 0.0)
        slot = (t - 1) % window
        total += spread
        if t > window:
            total -= recent[slot]
        recent[slot] = spread
        if t >= window:
            out[t] = total / window
    return out


@njit(cache=True, nogil=True)
def kyle_lambda(close: np.ndarray, volume: np.ndarray, window: int) -> np.ndarray:
    """Kyle's lambda proxy: OLS slope (with intercept) of the bar's log return on its signed quote notional
    ``sign(r) · close · volume``, over the last ``window`` bars, in return per million USDT."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    r = np.zeros(n)
    q = np.zeros(n)
    for t in range(1, n):
        r[t] = np.log(close[t] / close[t - 1])
        q[t] = np.sign(r[t]) * close[t] * volume[t] / PER_MILLION
    sq = 0.0
    sr = 0.0
    sqq = 0.0
    sqr = 0.0
    for t in range(1, n):
        sq += q[t]
        sr += r[t]
        sqq += q[t] * q[t]
        sqr += q[t] * r[t]
        if t > window:
            j = t - window
            sq -= q[j]
            sr -= r[j]
            sqq -= q[j] * q[j]
            sqr -= q[j] * r[j]
        if t >= window:
            var = sqq - sq * sq / window
            out[t] = (sqr - sq * sr / window) / var if var > 1e-12 * (sqq + 1e-300) else 0.0
    return out


@njit(cache=True, nogil=True)
def taker_imbalance(volume: np.ndarray, taker_buy_volume: np.ndarray, window: int) -> np.ndarray:
    """Mean over ``window`` bars of ``(taker buys − taker sells) / volume`` (−1 to 1; 0 for empty bars)."""
    n = volume.shape[0]
    imbalance = np.empty(n)
    for t in range(n):
        v = volume[t]
        imbalance[t] = (2.0 * taker_buy_volume[t] - v) / v if v > 0.0 else 0.0
    return rolling_sum(imbalance, window) / window
