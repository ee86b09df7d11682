"""Market data prepared once into the plain arrays the kernels read (no pandas inside a step).

``MarketData.from_frames`` takes canonical frames (bars, optional funding and mark) and builds the float64
``values[bar, M_*]`` table: last-trade OHLCV, the valuation price (mark where it exists, else last trade),
funding settlements mapped to the bar at whose close they settle, and the per-bar cost inputs (volatility
and half-spread) known at each bar's close.

Funding timing: a settlement at time ``ts`` is charged in the bar ``i`` with ``open_i < ts <= open_i +
interval``, i.e. at that bar's close, on the position held through the bar and at its valuation close. An
order decided at that close fills after the settlement (at the next bar's open), so it neither pays nor
receives it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from asterrl.errors import DataError
from asterrl.sim import layout as L
from asterrl.sim.config import CostConfig

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
_DEFAULT_FUNDING_INTERVAL_MS = 8 * HOUR_MS


@dataclass(frozen=True, slots=True)
class MarketData:
    """Per-bar arrays for the kernels.

    :param values: float64 array ``[n_bars, N_MARKET_FIELDS]`` (columns ``asterrl.sim.layout.M_*``),
        C-contiguous: one bar's fields are adjacent in memory, as the kernels read them.
    :param timestamps: bar open times, int64 ms UTC.
    :param interval_ms: bar length, ms.
    :param has_mark: whether any bar carries mark prices.
    """

    values: npt.NDArray[np.float64]
    timestamps: npt.NDArray[np.int64]
    interval_ms: int
    has_mark: bool

    @property
    def n_bars(self) -> int:
        """Number of bars."""
        return int(self.timestamps.shape[0])

    def series(self, field: int) -> npt.NDArray[np.float64]:
        """One per-bar series (``asterrl.sim.layout.M_*``) as a view over all bars."""
        return self.values[:, field]

    @classmethod
    def from_frames(
        cls,
        bars: pd.DataFrame,
        funding: pd.DataFrame | None = None,
        mark: pd.DataFrame | None = None,
        costs: CostConfig | None = None,
        interval_ms: int | None = None,
    ) -> MarketData:
        """Build the arrays from canonical frames (see ``asterrl.data.schema``).

        :param bars: ``timestamp open high low close volume`` (+ optional ``quote_volume``), sorted.
        :param funding: ``timestamp funding_rate`` (settlement times, ms UTC), or ``None``.
        :param mark: ``timestamp mark_open mark_high mark_low mark_close`` on the bar grid, or ``None``.
        :param costs: windows of the volatility and spread estimators; defaults to ``CostConfig()``. The
            estimated half-spread is always computed; ``CostConfig.half_spread_bps`` picks fixed or estimated.
        :param interval_ms: bar length; inferred from the most common timestamp step when omitted.
        """
        costs = costs or CostConfig()
        costs.validate()
        missing = [
            c for c in ("timestamp", "open", "high", "low", "close", "volume") if c not in bars.columns
        ]
        if missing:
            raise DataError(f"bars lack column(s) {', '.join(missing)}")
        if len(bars) < 3:
            raise DataError("bars hold fewer than 3 rows")
        ts = bars["timestamp"].to_numpy(dtype=np.int64)
        if np.any(np.diff(ts) <= 0):
            raise DataError("bar timestamps must be strictly increasing")
        ohlcv = bars[["open", "high", "low", "close", "volume"]].to_numpy(dtype=np.float64)
        if not np.all(np.isfinite(ohlcv)) or np.any(ohlcv[:, :4] <= 0.0) or np.any(ohlcv[:, 4] < 0.0):
            raise DataError("bars must hold finite positive prices and non-negative volume")
        if interval_ms is None:
            steps, counts = np.unique(np.diff(ts), return_counts=True)
            interval_ms = int(steps[np.argmax(counts)])
        n = ts.shape[0]
        v = np.zeros((L.N_MARKET_FIELDS, n), dtype=np.float64)  # built field by field, stored bar-major
        v[L.M_TIMESTAMP] = ts.astype(np.float64)
        v[L.M_OPEN : L.M_VOLUME + 1] = ohlcv.T
        if "quote_volume" in bars.columns and bars["quote_volume"].notna().all():
            v[L.M_NOTIONAL_VOLUME] = bars["quote_volume"].to_numpy(dtype=np.float64)
        else:
            v[L.M_NOTIONAL_VOLUME] = ohlcv[:, 4] * ohlcv[:, 3]
        has_mark = _fill_valuation(v, ts, mark)
        _fill_funding(v, ts, interval_ms, funding)
        _fill_cost_inputs(v, costs)
        v[L.M_DAY] = (ts // DAY_MS).astype(np.float64)
        return cls(np.ascontiguousarray(v.T), ts, interval_ms, has_mark)


def _fill_valuation(v: npt.NDArray[np.float64], ts: npt.NDArray[np.int64], mark: pd.DataFrame | None) -> bool:
    """Valuation OHLC: mark prices aligned on bar timestamps, last-trade prices where mark is missing."""
    v[L.M_VALUE_OPEN : L.M_VALUE_CLOSE + 1] = v[L.M_OPEN : L.M_CLOSE + 1]
    if mark is None or len(mark) == 0:
        return False
    cols = ["mark_open", "mark_high", "mark_low", "mark_close"]
    missing = [c for c in ["timestamp", *cols] if c not in mark.columns]
    if missing:
        raise DataError(f"mark prices lack column(s) {', '.join(missing)}")
    aligned = mark.set_index("timestamp")[cols].reindex(ts).to_numpy(dtype=np.float64)
    present = np.all(np.isfinite(aligned), axis=1) & np.all(aligned > 0.0, axis=1)
    v[L.M_VALUE_OPEN : L.M_VALUE_CLOSE + 1, present] = aligned[present].T
    return bool(present.any())


def _fill_funding(
    v: npt.NDArray[np.float64], ts: npt.NDArray[np.int64], interval_ms: int, funding: pd.DataFrame | None
) -> None:
    """Map settlements to bars, and per bar the hours to the next settlement and the last settled rate."""
    close_ts = ts + interval_ms
    if funding is None or len(funding) == 0:
        v[L.M_HOURS_TO_FUNDING] = _extrapolated_hours(close_ts, np.zeros(0, dtype=np.int64))
        return
    if "timestamp" not in funding.columns or "funding_rate" not in funding.columns:
        raise DataError("funding lacks column(s) timestamp, funding_rate")
    f_ts = funding["timestamp"].to_numpy(dtype=np.int64)
    rates = funding["funding_rate"].to_numpy(dtype=np.float64)
    if np.any(np.diff(f_ts) <= 0) or not np.all(np.isfinite(rates)):
        raise DataError("funding timestamps must be strictly increasing and rates finite")
    bar = np.searchsorted(ts, f_ts, side="left") - 1
    inside = (bar >= 0) & ((bar < ts.shape[0] - 1) | (f_ts <= close_ts[-1]))
    np.add.at(v[L.M_FUNDING_RATE], bar[inside], rates[inside])
    v[L.M_FUNDING_EVENT, bar[inside]] = 1.0
    settled = np.searchsorted(f_ts, close_ts, side="right")  # events with ts <= bar close
    v[L.M_LAST_FUNDING_RATE] = np.where(settled > 0, rates[np.maximum(settled - 1, 0)], 0.0)
    v[L.M_HOURS_TO_FUNDING] = _extrapolated_hours(close_ts, f_ts)


def _extrapolated_hours(
    close_ts: npt.NDArray[np.int64], f_ts: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """Hours from each close to the next settlement; past the last known one, the schedule is extended."""
    step = int(f_ts[-1] - f_ts[-2]) if f_ts.shape[0] >= 2 else _DEFAULT_FUNDING_INTERVAL_MS
    anchor = int(f_ts[-1]) if f_ts.shape[0] >= 1 else 0
    after = anchor + (np.floor_divide(close_ts - anchor, step) + 1) * step  # next on the extended grid
    nxt = np.searchsorted(f_ts, close_ts, side="right")
    known = nxt < f_ts.shape[0]
    out = after.astype(np.float64)
    out[known] = f_ts[nxt[known]].astype(np.float64)
    return (out - close_ts.astype(np.float64)) / HOUR_MS


def _fill_cost_inputs(v: npt.NDArray[np.float64], costs: CostConfig) -> None:
    """Per-bar volatility and half-spread, each using data up to the bar's close only."""
    close = v[L.M_CLOSE]
    log_ret = np.concatenate(([0.0], np.diff(np.log(close))))
    sigma = pd.Series(log_ret).rolling(costs.volatility_window, min_periods=2).std(ddof=1).to_numpy()
    first = np.flatnonzero(np.isfinite(sigma))
    sigma = np.where(np.isfinite(sigma), sigma, sigma[first[0]] if first.size else 0.0)
    v[L.M_SIGMA] = sigma
    floor = costs.min_half_spread_bps * 1e-4
    # Abdi-Ranaldo (2017): s^2 = 4 (c_{t-1} - eta_{t-1}) (c_{t-1} - eta_t), eta = mid-range in logs.
    log_close = np.log(close)
    eta = 0.5 * (np.log(v[L.M_HIGH]) + np.log(v[L.M_LOW]))
    s2 = np.zeros_like(close)
    s2[1:] = 4.0 * (log_close[:-1] - eta[:-1]) * (log_close[:-1] - eta[1:])
    mean_s2 = pd.Series(s2).rolling(costs.estimate_window, min_periods=1).mean().to_numpy()
    v[L.M_HALF_SPREAD] = np.maximum(0.5 * np.sqrt(np.maximum(mean_s2, 0.0)), floor)
    if not math.isfinite(float(v[L.M_HALF_SPREAD].max())):
        raise DataError("spread estimate is not finite")
