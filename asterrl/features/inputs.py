"""The market data a feature pipeline reads: bars plus optional taker flow, funding and a reference symbol.

All arrays are plain numpy: timestamps int64 UTC ms (bar open time), prices float64 in quote currency
(USDT), volumes float64 in the base asset. Funding is a separate irregular series of settlement times and
decimal rates; the reference close is already aligned to the bars.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TypeVar

import numpy as np
import pandas as pd

from asterrl.data.schema import bar_interval_ms
from asterrl.errors import DataError

T = TypeVar("T")

#: Guards the memo of ``MarketInputs.shared`` when features are computed on several threads.
_SHARED_LOCK = threading.Lock()


class Input(StrEnum):
    """Data a feature may need beyond open/high/low/close/volume and timestamps."""

    TAKER_BUY_VOLUME = "taker_buy_volume"
    FUNDING = "funding"
    REFERENCE = "reference_close"


def _as_float(values: object, name: str) -> np.ndarray:
    array = np.ascontiguousarray(np.asarray(values, dtype=np.float64))
    if array.ndim != 1:
        raise DataError(f"feature input {name} must be one-dimensional, got shape {array.shape}")
    return array


@dataclass(frozen=True)
class MarketInputs:
    """Bars for one symbol and the optional side series the features may use.

    :param timestamp: bar open times, int64 UTC ms, strictly increasing.
    :param interval_ms: bar length in ms; a bar's close time is ``timestamp + interval_ms``.
    :param taker_buy_volume: base volume bought by takers per bar, when the source has it.
    :param funding_timestamp: funding settlement times (int64 UTC ms, ascending).
    :param funding_rate: decimal rate of each settlement (0.0001 = 0.01 % per interval).
    :param reference_close: the reference symbol's close aligned to these bars (NaN before it starts).
    """

    timestamp: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    interval_ms: int
    taker_buy_volume: np.ndarray | None = None
    funding_timestamp: np.ndarray | None = None
    funding_rate: np.ndarray | None = None
    reference_close: np.ndarray | None = None
    reference_symbol: str | None = field(default=None, compare=False)
    #: Intermediate results shared by several features inside ``sharing()`` (``None`` outside it).
    _shared: dict[Hashable, object] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        stamps = np.ascontiguousarray(np.asarray(self.timestamp, dtype=np.int64))
        object.__setattr__(self, "timestamp", stamps)
        n = stamps.shape[0]
        for name in ("open", "high", "low", "close", "volume", "taker_buy_volume", "reference_close"):
            value = getattr(self, name)
            if value is None:
                continue
            array = _as_float(value, name)
            if array.shape[0] != n:
                raise DataError(f"feature input {name} has {array.shape[0]} rows, timestamps have {n}")
            object.__setattr__(self, name, array)
        if n > 1 and np.any(np.diff(stamps) <= 0):
            raise DataError("bar timestamps must be strictly increasing")
        if self.interval_ms <= 0:
            raise DataError(f"interval_ms must be positive, got {self.interval_ms}")
        if (self.funding_timestamp is None) != (self.funding_rate is None):
            raise DataError("funding needs both settlement timestamps and rates")
        if self.funding_timestamp is not None and self.funding_rate is not None:
            f_stamps = np.ascontiguousarray(np.asarray(self.funding_timestamp, dtype=np.int64))
            rates = _as_float(self.funding_rate, "funding_rate")
            if f_stamps.shape != rates.shape:
                raise DataError("funding timestamps and rates differ in length")
            if f_stamps.shape[0] > 1 and np.any(np.diff(f_stamps) <= 0):
                raise DataError("funding timestamps must be strictly increasing")
            object.__setattr__(self, "funding_timestamp", f_stamps)
            object.__setattr__(self, "funding_rate", rates)

    @contextmanager
    def sharing(self) -> Iterator[MarketInputs]:
        """Within this block, ``shared`` computes each intermediate (e.g. one TD Sequential pass feeding
        both DeMark features) once; the results are dropped on exit so that nothing outlives the caller's
        feature run."""
        outer = self._shared is not None
        if not outer:
            object.__setattr__(self, "_shared", {})
        try:
            yield self
        finally:
            if not outer:
                object.__setattr__(self, "_shared", None)

    def shared(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, memoised under ``key`` inside ``sharing()`` (computed afresh outside it).

        ``key`` must name the computation and every parameter it depends on; the inputs are immutable.
        """
        memo = self._shared
        if memo is None:
            return compute()
        with _SHARED_LOCK:
            if key not in memo:
                memo[key] = compute()
            return memo[key]  # type: ignore[return-value]

    @property
    def n_bars(self) -> int:
        """Number of bars."""
        return int(self.timestamp.shape[0])

    @property
    def close_time(self) -> np.ndarray:
        """Bar close times (open time + interval), int64 UTC ms."""
        return self.timestamp + np.int64(self.interval_ms)

    def has(self, needed: Input) -> bool:
        """Whether the optional input ``needed`` is present."""
        if needed is Input.FUNDING:
            return self.funding_timestamp is not None
        return getattr(self, needed.value) is not None

    def head(self, stop: int) -> MarketInputs:
        """The first ``stop`` bars, with only the funding settled by the last kept bar's close."""
        changes: dict[str, object] = {}
        for name in (
            "timestamp",
            "open",
            "high",
            "low",
            "close",
            "volume",
            "taker_buy_volume",
            "reference_close",
        ):
            value = getattr(self, name)
            if value is not None:
                changes[name] = value[:stop]
        if self.funding_timestamp is not None and self.funding_rate is not None:
            last_close = self.timestamp[stop - 1] + self.interval_ms if stop > 0 else np.iinfo(np.int64).min
            keep = self.funding_timestamp <= last_close
            changes["funding_timestamp"] = self.funding_timestamp[keep]
            changes["funding_rate"] = self.funding_rate[keep]
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_frames(
        cls,
        bars: pd.DataFrame,
        funding: pd.DataFrame | None = None,
        reference: pd.DataFrame | None = None,
        interval_ms: int | None = None,
        reference_symbol: str | None = None,
    ) -> MarketInputs:
        """Build inputs from canonical frames (``timestamp open high low close volume [taker_buy_volume]``,
        ``timestamp funding_rate``, and the reference's bars).

        The reference close is matched on bar timestamps and carried forward over its missing bars (never
        backwards). ``interval_ms`` defaults to the most common spacing of the bar timestamps.
        """
        missing = [
            c for c in ("timestamp", "open", "high", "low", "close", "volume") if c not in bars.columns
        ]
        if missing:
            raise DataError(f"bars lack column(s) {', '.join(missing)}")
        stamps = bars["timestamp"].to_numpy(np.int64)
        if interval_ms is None:
            interval_ms = bar_interval_ms(stamps)
        taker = bars["taker_buy_volume"].to_numpy(np.float64) if "taker_buy_volume" in bars.columns else None
        if taker is not None and np.isnan(taker).any():
            taker = None
        reference_close = None
        if reference is not None:
            ref_stamps = reference["timestamp"].to_numpy(np.int64)
            ref_close = reference["close"].to_numpy(np.float64)
            order = np.argsort(ref_stamps, kind="stable")
            ref_stamps, ref_close = ref_stamps[order], ref_close[order]
            latest = np.searchsorted(ref_stamps, stamps, side="right") - 1
            reference_close = np.where(latest >= 0, ref_close[np.maximum(latest, 0)], np.nan)
        return cls(
            timestamp=stamps,
            open=bars["open"].to_numpy(np.float64),
            high=bars["high"].to_numpy(np.float64),
            low=bars["low"].to_numpy(np.float64),
            close=bars["close"].to_numpy(np.float64),
            volume=bars["volume"].to_numpy(np.float64),
            interval_ms=interval_ms,
            taker_buy_volume=taker,
            funding_timestamp=None if funding is None else funding["timestamp"].to_numpy(np.int64),
            funding_rate=None if funding is None else funding["funding_rate"].to_numpy(np.float64),
            reference_close=reference_close,
            reference_symbol=reference_symbol,
        )
