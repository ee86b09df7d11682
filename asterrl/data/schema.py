"""The canonical market-data schema: bars, funding and mark-price series, and the key that names a series.

Timestamps are int64 UTC milliseconds. For bars and mark klines a timestamp is the bar's open time; for
funding it is the settlement time. Prices are in the quote asset (USDT), ``volume`` in the base asset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from asterrl.errors import DataError


class DataKind(StrEnum):
    """What a table holds."""

    OHLCV = "ohlcv"
    FUNDING = "funding"
    MARK = "mark"


class Market(StrEnum):
    """Which order book a series comes from."""

    PERP = "perp"
    SPOT = "spot"
    # Lower-case aliases: Hydra/OmegaConf look enum members up by name, and configs spell values lower-case.
    perp = "perp"
    spot = "spot"


#: Required columns of each kind, in canonical order.
REQUIRED_COLUMNS: dict[DataKind, tuple[str, ...]] = {
    DataKind.OHLCV: ("timestamp", "open", "high", "low", "close", "volume"),
    DataKind.FUNDING: ("timestamp", "funding_rate"),
    DataKind.MARK: ("timestamp", "mark_open", "mark_high", "mark_low", "mark_close"),
}

#: Optional columns kept when present (bars only): quote volume (USDT), trade count, taker-buy base volume.
OPTIONAL_COLUMNS: dict[DataKind, tuple[str, ...]] = {
    DataKind.OHLCV: ("quote_volume", "trades", "taker_buy_volume"),
    DataKind.FUNDING: (),
    DataKind.MARK: (),
}

#: Price-like columns of each kind (checked for OHLC consistency and outliers).
PRICE_COLUMNS: dict[DataKind, tuple[str, str, str, str] | None] = {
    DataKind.OHLCV: ("open", "high", "low", "close"),
    DataKind.FUNDING: None,
    DataKind.MARK: ("mark_open", "mark_high", "mark_low", "mark_close"),
}

#: Column added by validation when a problem's policy is ``mark``: a bit mask of ``QualityFlag`` values.
QUALITY_COLUMN = "quality_flags"

#: Milliseconds in a 365-day year (crypto trades around the clock): the one year used to annualise.
YEAR_MS = 365.0 * 86_400_000.0

_UNITS_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 7 * 86_400_000}
#: Intervals Aster and Binance serve for klines (the calendar month ``1M`` is not a fixed length and is not
#: supported by the store's gap checks).
SUPPORTED_INTERVALS = (
    "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w",
)  # fmt: skip
_SYMBOL_RE = re.compile(r"^[A-Z0-9]{2,30}$")


def interval_ms(interval: str) -> int:
    """Length of a kline interval such as ``"1h"`` in milliseconds."""
    if interval not in SUPPORTED_INTERVALS:
        raise DataError(f"unknown interval {interval!r}; expected one of {', '.join(SUPPORTED_INTERVALS)}")
    return int(interval[:-1]) * _UNITS_MS[interval[-1]]


def bar_interval_ms(timestamps: npt.ArrayLike) -> int:
    """Bar length of a series of bar open times (int64 ms UTC): the most common step between consecutive
    bars, so that gaps (missing bars) do not change it. The one rule for inferring a bar interval."""
    stamps = np.asarray(timestamps, dtype=np.int64)
    if stamps.ndim != 1 or stamps.shape[0] < 2:
        raise DataError("cannot infer the bar interval from fewer than two bars")
    steps, counts = np.unique(np.diff(stamps), return_counts=True)
    if steps[0] <= 0:
        raise DataError("bar timestamps must be strictly increasing to infer the bar interval")
    return int(steps[np.argmax(counts)])


def interval_offset_ms(interval: str) -> int:
    """Offset of the bar grid from the epoch: weekly bars open on Mondays, the epoch was a Thursday."""
    return 4 * 86_400_000 if interval == "1w" else 0


def normalize_symbol(symbol: str) -> str:
    """Upper-case exchange symbol such as ``BTCUSDT``; ``BTC/USDT:USDT`` and ``BTC_USDT`` are accepted."""
    cleaned = symbol.strip().upper().split(":")[0].replace("/", "").replace("_", "").replace("-", "")
    if not _SYMBOL_RE.match(cleaned):
        raise DataError(f"invalid symbol {symbol!r}: expected letters and digits such as BTCUSDT")
    return cleaned


@dataclass(frozen=True, slots=True)
class SeriesKey:
    """Names one stored series: ``kind`` of ``symbol`` on ``market`` at ``interval`` (none for funding)."""

    kind: DataKind
    market: Market
    symbol: str
    interval: str | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", DataKind(self.kind))
        object.__setattr__(self, "market", Market(self.market))
        object.__setattr__(self, "symbol", normalize_symbol(self.symbol))
        if self.kind is DataKind.FUNDING:
            object.__setattr__(self, "interval", None)
        elif self.interval is None:
            raise DataError(f"{self.kind.value} series need an interval such as 1h")
        else:
            interval_ms(self.interval)
        if self.market is Market.SPOT and self.kind is not DataKind.OHLCV:
            raise DataError(f"spot markets have no {self.kind.value} series")

    @property
    def interval_ms(self) -> int | None:
        """Bar length in ms, or ``None`` for funding (irregular settlement times)."""
        return None if self.interval is None else interval_ms(self.interval)

    def label(self) -> str:
        """Human-readable name, e.g. ``perp BTCUSDT 1h ohlcv``."""
        parts = [self.market.value, self.symbol] + ([self.interval] if self.interval else [])
        return " ".join([*parts, self.kind.value])
