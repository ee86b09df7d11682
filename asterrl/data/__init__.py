"""Market data: the canonical schema, file readers, validation, the embedded store and the sources."""

from asterrl.data.schema import DataKind, Market, SeriesKey, interval_ms

__all__ = ["DataKind", "Market", "SeriesKey", "interval_ms"]
