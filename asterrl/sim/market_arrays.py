"""Market data prepared once into the plain arrays the kernels read (no pandas inside a step).

``MarketArrays.from_frames`` takes canonical frames (bars, optional funding and mark) and builds the float64
``values[bar, Market.*]`` table: last-trade OHLCV, the valuation price (mark where it exists, else last
trade), funding settlements mapped to the bar at whose close they settle, and the per-bar cost inputs
(volatility, half-spread and volume) known at each bar's close. Every per-bar value uses data up to that
bar's close only.

Funding timing: a settlement at time ``ts`` is charged at the close of the first bar whose close is at or
after ``ts`` (``open_i < ts <= open_i + interval`` on a gap-free grid), on the position held through that
bar and at its valuation close. An order decided at that close fills after the settlement (at the next
bar's open), so it neither pays nor receives it. Over a gap in the bars the settlement is charged at the
close of the first bar after it, never earlier.

Mark timing: a mark series on the bars' interval is matched by timestamp. A finer one (1m mark under 5m
bars) is aggregated over each bar (open of its first row, close of its last, extreme high and low), and
a bar it does not cover completely falls back to last-trade prices. A coarser one (1h mark under 5m bars)
is refused: a 5m bar valued with the hour's mark would see up to 55 minutes ahead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from asterrl.errors import DataError
from asterrl.sim.config import CostConfig
from asterrl.sim.layout import N_MARKET_FIELDS, Market

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
_DEFAULT_FUNDING_INTERVAL_MS = 8 * HOUR_MS
#: Parkinson's range estimator of per-bar sigma: ln(high / low) / sqrt(4 ln 2).
_PARKINSON = 1.0 / math.sqrt(4.0 * math.log(2.0))


@dataclass(frozen=True, slots=True)
class MarketArrays:
    """Per-bar arrays for the kernels.

    :param values: float64 array ``[n_bars, N_MARKET_FIELDS]`` (columns ``asterrl.sim.layout.Market``),
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
        """One per-bar series (``asterrl.sim.layout.Market``) as a view over all bars."""
        return self.values[:, field]

    @classmethod
    def from_frames(
        cls,
        bars: pd.DataFrame,
        funding: pd.DataFrame | None = None,
        mark: pd.DataFrame | None = None,
        costs: CostConfig | None = None,
        interval_ms: int | None = None,
        decision_latency_ms: float = 0.0,
    ) -> MarketArrays:
        """Build the arrays from canonical frames (see ``asterrl.data.schema``).

        :param bars: ``timestamp open high low close volume`` (+ optional ``quote_volume``), sorted.
        :param funding: ``timestamp funding_rate`` (settlement times, ms UTC), or ``None``.
        :param mark: ``timestamp mark_open mark_high mark_low mark_close`` on the bars' interval or a finer
            one dividing it, or ``None``.
        :param costs: windows of the volatility, spread and volume estimators; defaults to ``CostConfig()``.
        :param interval_ms: bar length; inferred from the most common timestamp step when omitted.
        :param decision_latency_ms: time from a bar's close to the order leaving (staleness model): the
            data age of an order at bar ``k``'s open is this plus any gap before ``k`` in the bars.
        """
        costs = (costs or CostConfig()).validate()
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
            interval_ms = _most_common_step(ts)
        if not (math.isfinite(decision_latency_ms) and decision_latency_ms >= 0.0):
            raise DataError(f"decision latency must be a finite number of ms >= 0, got {decision_latency_ms}")
        n = ts.shape[0]
        v = np.zeros((N_MARKET_FIELDS, n), dtype=np.float64)  # built field by field, stored bar-major
        v[Market.TIMESTAMP] = ts.astype(np.float64)
        v[Market.OPEN : Market.VOLUME + 1] = ohlcv.T
        if "quote_volume" in bars.columns and bars["quote_volume"].notna().all():
            v[Market.NOTIONAL_VOLUME] = bars["quote_volume"].to_numpy(dtype=np.float64)
        else:
            v[Market.NOTIONAL_VOLUME] = ohlcv[:, 4] * ohlcv[:, 3]
        has_mark = _fill_valuation(v, ts, interval_ms, mark)
        _fill_funding(v, ts, interval_ms, funding)
        _fill_cost_inputs(v, costs)
        v[Market.DAY] = (ts // DAY_MS).astype(np.float64)
        gap = np.zeros(n, dtype=np.float64)
        gap[1:] = (ts[1:] - (ts[:-1] + interval_ms)).astype(np.float64)
        v[Market.DATA_AGE_MS] = np.maximum(gap, 0.0) + decision_latency_ms
        return cls(np.ascontiguousarray(v.T), ts, interval_ms, has_mark)


def _most_common_step(ts: npt.NDArray[np.int64]) -> int:
    steps, counts = np.unique(np.diff(ts), return_counts=True)
    return int(steps[np.argmax(counts)])


def _fill_valuation(
    v: npt.NDArray[np.float64], ts: npt.NDArray[np.int64], interval_ms: int, mark: pd.DataFrame | None
) -> bool:
    """Valuation OHLC: mark prices aligned causally to the bars, last-trade prices where mark is missing."""
    v[Market.VALUE_OPEN : Market.VALUE_CLOSE + 1] = v[Market.OPEN : Market.CLOSE + 1]
    if mark is None or len(mark) == 0:
        return False
    cols = ["mark_open", "mark_high", "mark_low", "mark_close"]
    missing = [c for c in ["timestamp", *cols] if c not in mark.columns]
    if missing:
        raise DataError(f"mark prices lack column(s) {', '.join(missing)}")
    m_ts = mark["timestamp"].to_numpy(dtype=np.int64)
    if np.any(np.diff(m_ts) <= 0):
        raise DataError("mark timestamps must be strictly increasing")
    m_interval = _most_common_step(m_ts) if m_ts.shape[0] >= 2 else interval_ms
    if m_interval > interval_ms:
        raise DataError(
            f"mark prices every {m_interval // 60_000} min cannot value {interval_ms // 60_000} min bars "
            "without looking ahead (a bar would see the mark of a later close): load mark prices at the "
            "bars' interval or finer, or set data.with_mark=false to value at last-trade prices"
        )
    if interval_ms % m_interval != 0:
        raise DataError(
            f"the mark interval ({m_interval} ms) does not divide the bar interval ({interval_ms} ms)"
        )
    values = mark[cols].to_numpy(dtype=np.float64)
    good = np.all(np.isfinite(values), axis=1) & np.all(values > 0.0, axis=1)
    m_ts, values = m_ts[good], values[good]
    if m_ts.shape[0] == 0:
        return False
    bar = np.searchsorted(ts, m_ts, side="right") - 1
    inside = (bar >= 0) & (m_ts + m_interval <= ts[np.maximum(bar, 0)] + interval_ms)
    bar, m_ts, values = bar[inside], m_ts[inside], values[inside]
    if bar.size == 0:
        return False
    # bar numbers never decrease along m_ts: each bar's mark rows are one run, reduced in place
    rows, first, counts = np.unique(bar, return_index=True, return_counts=True)
    complete = (counts == interval_ms // m_interval) & (m_ts[first] == ts[rows])
    ohlc = np.column_stack((
        values[first, 0], np.maximum.reduceat(values[:, 1], first), np.minimum.reduceat(values[:, 2], first),
        values[first + counts - 1, 3],
    ))[complete]  # fmt: skip
    rows = rows[complete]
    v[Market.VALUE_OPEN : Market.VALUE_CLOSE + 1, rows] = ohlc.T
    return bool(rows.size)


def _fill_funding(
    v: npt.NDArray[np.float64], ts: npt.NDArray[np.int64], interval_ms: int, funding: pd.DataFrame | None
) -> None:
    """Map settlements to bars, and per bar the hours to the next settlement and the last settled rate."""
    close_ts = ts + interval_ms
    if funding is None or len(funding) == 0:
        v[Market.HOURS_TO_FUNDING] = _extrapolated_hours(close_ts, np.zeros(0, dtype=np.int64))
        return
    if "timestamp" not in funding.columns or "funding_rate" not in funding.columns:
        raise DataError("funding lacks column(s) timestamp, funding_rate")
    f_ts = funding["timestamp"].to_numpy(dtype=np.int64)
    rates = funding["funding_rate"].to_numpy(dtype=np.float64)
    if np.any(np.diff(f_ts) <= 0) or not np.all(np.isfinite(rates)):
        raise DataError("funding timestamps must be strictly increasing and rates finite")
    bar = np.searchsorted(close_ts, f_ts, side="left")  # first bar whose close is at or after the settlement
    inside = (bar < ts.shape[0]) & (f_ts > ts[0])
    np.add.at(v[Market.FUNDING_RATE], bar[inside], rates[inside])
    v[Market.FUNDING_EVENT, bar[inside]] = 1.0
    settled = np.searchsorted(f_ts, close_ts, side="right")  # events with ts <= bar close
    v[Market.LAST_FUNDING_RATE] = np.where(settled > 0, rates[np.maximum(settled - 1, 0)], 0.0)
    v[Market.HOURS_TO_FUNDING] = _extrapolated_hours(close_ts, f_ts)


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
    """Per-bar volatility, half-spread and known volume, each using data up to the bar's close only.

    Sigma is the standard deviation of the log returns inside the window ending at the bar (at least two
    real returns; the first bar has no return, none is invented). Where fewer than two returns exist yet
    (the first two bars), Parkinson's range estimate of the bar's own high and low stands in.
    """
    close = v[Market.CLOSE]
    log_ret = np.concatenate(([np.nan], np.diff(np.log(close))))
    sigma = pd.Series(log_ret).rolling(costs.volatility_window, min_periods=2).std(ddof=1).to_numpy()
    parkinson = _PARKINSON * np.log(v[Market.HIGH] / v[Market.LOW])
    v[Market.SIGMA] = np.where(np.isfinite(sigma), sigma, parkinson)
    floor = costs.min_half_spread_bps * 1e-4
    # Abdi-Ranaldo (2017): s^2 = 4 (c_{t-1} - eta_{t-1}) (c_{t-1} - eta_t), eta = mid-range in logs.
    log_close = np.log(close)
    eta = 0.5 * (np.log(v[Market.HIGH]) + np.log(v[Market.LOW]))
    s2 = np.full_like(close, np.nan)
    s2[1:] = 4.0 * (log_close[:-1] - eta[:-1]) * (log_close[:-1] - eta[1:])
    mean_s2 = pd.Series(s2).rolling(costs.estimate_window, min_periods=1).mean().to_numpy()
    mean_s2 = np.where(np.isfinite(mean_s2), mean_s2, 0.0)  # bar 0: no estimate yet, the floor applies
    v[Market.HALF_SPREAD] = np.maximum(0.5 * np.sqrt(np.maximum(mean_s2, 0.0)), floor)
    if not math.isfinite(float(v[Market.HALF_SPREAD].max())):
        raise DataError("spread estimate is not finite")
    window = costs.volume_window
    v[Market.KNOWN_VOLUME] = pd.Series(v[Market.VOLUME]).rolling(window, min_periods=1).mean().to_numpy()
    v[Market.KNOWN_NOTIONAL] = (
        pd.Series(v[Market.NOTIONAL_VOLUME]).rolling(window, min_periods=1).mean().to_numpy()
    )
