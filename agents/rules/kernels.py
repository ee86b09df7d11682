"""Numba kernels of the rule agents: one pass over the bars gives the target position at every bar.

Every kernel is causal: the target at bar ``t`` reads inputs at indices ``<= t`` only, so running it over
the whole series once equals deciding bar by bar. Targets are fractions of the env's position scale in
[-1, 1]; warm-up bars (NaN indicators) are flat (0).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def _start_line(z: float, levels: int, fresh_start: bool) -> int:
    """Units a grid starting (or re-arming) at distance ``z`` counts from: the units its rule would hold
    there when ``fresh_start``, else 0 (it counts from the anchor)."""
    if not fresh_start:
        return 0
    if z <= -1:
        return min(levels, math.floor(-z))
    if z >= 1:
        return max(-levels, math.ceil(-z))
    return 0


@njit(cache=True)
def grid_targets(
    close: np.ndarray,
    anchor: np.ndarray,
    spacing: np.ndarray,
    levels: int,
    stop_levels: float,
    max_fraction: float,
    allow_short: bool,
    active: np.ndarray,
    fresh_start: bool,
) -> np.ndarray:
    """Grid of lines at ``anchor + j * spacing``; holdings ``u`` units, ``|u| <= levels``.

    With ``z = (close - anchor) / spacing`` and ``o`` the line the grid counts from, a close at or below
    line ``-(u + o + 1)`` buys down to line ``floor(-z)``, a close at or above line ``-(u + o - 1)`` sells up
    to ``ceil(-z)`` (one line of hysteresis). ``|z| >= levels + stop_levels`` (when ``stop_levels > 0``)
    flattens the grid until ``|z| <= levels``. Target = ``u / levels * max_fraction`` (short units count 0
    when ``allow_short`` is false).

    The grid trades only on bars where ``active`` is true; elsewhere it is flat and forgets its units. It
    starts flat on the first active bar (and when it re-arms after a stop): with ``fresh_start`` it counts
    lines from the one the close is at (``o`` = the units the rule would hold there, so it trades only
    lines crossed from then on), else from the anchor (``o = 0``: it at once holds what the price's
    distance from the anchor says).
    """
    n = close.shape[0]
    out = np.zeros(n)
    u = 0
    o = 0
    running = False
    stopped = False
    for t in range(n):
        a = anchor[t]
        s = spacing[t]
        if not active[t] or math.isnan(a) or math.isnan(s) or s <= 0.0:
            u = 0
            running = False
            stopped = False
            continue
        z = (close[t] - a) / s
        if not running:
            running = True
            o = _start_line(z, levels, fresh_start)
        if stop_levels > 0.0 and abs(z) >= levels + stop_levels:
            u = 0
            stopped = True
        elif stopped and abs(z) <= levels:
            stopped = False
            o = _start_line(z, levels, fresh_start)
        if not stopped:
            if z <= -(u + o + 1):
                u = min(levels, math.floor(-z) - o)
            elif z >= 1 - (u + o):
                u = max(-levels, math.ceil(-z) - o)
        held = u if (allow_short or u > 0) else 0
        out[t] = held / levels * max_fraction
    return out


@njit(cache=True)
def breakout_targets(
    close: np.ndarray,
    entry_high: np.ndarray,
    entry_low: np.ndarray,
    exit_high: np.ndarray,
    exit_low: np.ndarray,
    size: np.ndarray,
    allow_short: bool,
    active: np.ndarray,
) -> np.ndarray:
    """Channel breakout with a volatility-scaled size.

    ``entry_high``/``entry_low`` and ``exit_high``/``exit_low`` are channels over the bars *before* ``t``.
    Long when ``close > entry_high``, closed when ``close < exit_low``; short when ``close < entry_low``,
    closed when ``close > exit_high``. Target = direction x ``size[t]`` (NaN size or channels: flat).

    Only bars where ``active`` is true trade: elsewhere the position is flat, so after an inactive spell a
    position opens only on a fresh breakout (a close beyond the entry channel on an active bar).
    """
    n = close.shape[0]
    out = np.zeros(n)
    d = 0
    for t in range(n):
        if (
            not active[t]
            or math.isnan(entry_high[t])
            or math.isnan(entry_low[t])
            or math.isnan(exit_high[t])
            or math.isnan(exit_low[t])
            or math.isnan(size[t])
        ):
            d = 0
            continue
        c = close[t]
        if (d == 1 and c < exit_low[t]) or (d == -1 and c > exit_high[t]):
            d = 0
        if d <= 0 and c > entry_high[t]:
            d = 1
        elif d >= 0 and allow_short and c < entry_low[t]:
            d = -1
        out[t] = d * size[t]
    return out


@njit(cache=True)
def market_regime(
    adx: np.ndarray, vol_ratio: np.ndarray, adx_trend: float, adx_range: float, vol_ratio_max: float
) -> np.ndarray:
    """Regime per bar: 1 trending, 0 ranging, -1 flat.

    ``vol_ratio > vol_ratio_max`` is flat; else ADX >= ``adx_trend`` trends, ADX <= ``adx_range`` ranges,
    and an ADX in between keeps the previous trending/ranging regime (flat before the first one).
    """
    n = adx.shape[0]
    regime = np.full(n, -1.0)
    last = -1
    for t in range(n):
        if math.isnan(adx[t]) or math.isnan(vol_ratio[t]):
            continue
        if adx[t] >= adx_trend:
            last = 1
        elif adx[t] <= adx_range:
            last = 0
        regime[t] = -1 if vol_ratio[t] > vol_ratio_max else last
    return regime


@njit(cache=True)
def exhaustion_targets(
    close: np.ndarray,
    buy_signal: np.ndarray,
    sell_signal: np.ndarray,
    stop_distance: np.ndarray,
    hold_bars: int,
    fraction: float,
    allow_short: bool,
) -> np.ndarray:
    """Fade exhaustion signals: long on ``buy_signal``, short on ``sell_signal`` (flat when shorts are off).

    A position closes after ``hold_bars`` bars, or when the close crosses ``signal close -/+
    stop_distance`` (NaN or 0 distance: no stop). A new signal (re)opens on the same bar.
    """
    n = close.shape[0]
    out = np.zeros(n)
    d = 0
    entered = 0
    stop = 0.0
    for t in range(n):
        if d != 0:
            expired = t - entered >= hold_bars
            stopped = (d == 1 and close[t] < stop) or (d == -1 and close[t] > stop)
            if expired or stopped:
                d = 0
        dist = stop_distance[t]
        no_stop = math.isnan(dist) or dist <= 0.0
        if buy_signal[t]:
            d = 1
            entered = t
            stop = -np.inf if no_stop else close[t] - dist
        elif sell_signal[t]:
            if allow_short:
                d = -1
                entered = t
                stop = np.inf if no_stop else close[t] + dist
            elif d == 1:
                d = 0
        out[t] = d * fraction
    return out


@njit(cache=True)
def crossover_targets(fast: np.ndarray, slow: np.ndarray, fraction: float, allow_short: bool) -> np.ndarray:
    """``fraction`` while ``fast > slow``, ``-fraction`` (0 without shorts) while ``fast < slow``; an equal
    pair keeps the previous target; flat while either line is NaN (warm-up)."""
    n = fast.shape[0]
    out = np.zeros(n)
    held = 0.0
    short = -fraction if allow_short else 0.0
    for t in range(n):
        f, s = fast[t], slow[t]
        if math.isnan(f) or math.isnan(s):
            held = 0.0
        elif f > s:
            held = fraction
        elif f < s:
            held = short
        out[t] = held
    return out
