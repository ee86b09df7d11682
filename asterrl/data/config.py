"""Typed configuration of the data layer (Hydra structured configs; YAML in ``conf/data/``)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum

import pandas as pd

from asterrl.data.schema import SUPPORTED_INTERVALS, Market, normalize_symbol
from asterrl.data.sources.synthetic import SyntheticConfig
from asterrl.data.validate import ValidationPolicy
from asterrl.errors import AsterRLError, ConfigError


def parse_time_ms(text: str, what: str) -> int:
    """ISO date or datetime (UTC unless an offset is given) as epoch ms; ``what`` names the ``data.*`` key."""
    try:
        stamp = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise ConfigError(f"data.{what}: {text!r} is not an ISO date such as 2024-01-01") from None
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return int(stamp.value // 1_000_000)


class SourceName(StrEnum):
    """Where a series comes from."""

    ASTER = "aster"
    BINANCE = "binance"
    FILE = "file"
    SYNTHETIC = "synthetic"
    # Lower-case aliases so that configs can say `source: aster` (OmegaConf looks members up by name).
    aster = "aster"
    binance = "binance"
    file = "file"
    synthetic = "synthetic"


@dataclass
class EndpointsConfig:
    """REST endpoints and client behaviour of the remote sources."""

    aster_url: str = "https://fapi.asterdex.com"
    binance_url: str = "https://fapi.binance.com"
    binance_spot_url: str = "https://api.binance.com"
    #: Per-request timeout in seconds.
    timeout_s: float = 10.0
    #: Retries of one request after 429/418/5xx or a network error before giving up.
    max_retries: int = 3
    #: Share of the venue's request-weight limit (2400 per minute) the client allows itself.
    weight_budget: float = 0.8


@dataclass
class FilesConfig:
    """Local files for ``source: file`` (CSV, CSV.gz or Parquet in the canonical schema); empty = none."""

    ohlcv: str = ""
    funding: str = ""
    mark: str = ""


@dataclass
class DataConfig:
    """Which market series to use and how to obtain and check it."""

    #: Primary source of the series.
    source: SourceName = SourceName.ASTER
    #: Sources tried in order when the primary cannot be reached (remote sources only).
    fallback: list[SourceName] = field(default_factory=lambda: [SourceName.BINANCE])
    #: The traded symbol: it alone selects the bars and the ``Instrument`` (tick, lot, margin tiers).
    symbol: str = "BTCUSDT"
    market: Market = Market.PERP
    #: Kline interval, e.g. 1m, 5m, 1h, 4h, 1d.
    interval: str = "1h"
    #: First bar to use, ISO date or datetime in UTC.
    start: str = "2020-01-01"
    #: End of the span (exclusive), ISO date in UTC; empty means up to the last closed bar.
    end: str = ""
    #: Load the funding-rate history (perps only).
    with_funding: bool = True
    #: Load the mark-price klines (perps only; used for funding and liquidation checks).
    with_mark: bool = True
    #: Store root; empty means ``$ASTERRL_HOME/store`` (``~/.asterrl/store`` when ASTERRL_HOME is unset).
    store_dir: str = ""
    #: Fetch bars newer than the stored ones before use (otherwise a stored series is used as it is).
    refresh: bool = False
    validation: ValidationPolicy = field(default_factory=ValidationPolicy)
    endpoints: EndpointsConfig = field(default_factory=EndpointsConfig)
    files: FilesConfig = field(default_factory=FilesConfig)
    #: YAML/JSON instruments files consulted after the store and before the bundled instruments
    #: (``asterrl/data/instruments.yaml`` shows the format).
    instrument_files: list[str] = field(default_factory=list)
    #: Parameters of the synthetic market (``source: synthetic``); its seed is the run's ``seed``.
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)

    def validate(self) -> DataConfig:
        """Raise a one-line ``ConfigError`` naming the ``data.*`` key of a bad value; return ``self``."""
        try:
            self.symbol = normalize_symbol(self.symbol)
        except AsterRLError as error:
            raise ConfigError(f"data.symbol: {error}") from None
        if self.interval not in SUPPORTED_INTERVALS:
            raise ConfigError(
                f"data.interval={self.interval!r}; expected one of {', '.join(SUPPORTED_INTERVALS)}"
            )
        start, end = self.span_ms()
        if end <= start:
            raise ConfigError(f"data.end ({self.end}) must be after data.start ({self.start})")
        if self.source is SourceName.FILE and not self.files.ohlcv:
            raise ConfigError("data.source=file needs data.files.ohlcv (a CSV, CSV.gz or Parquet file)")
        return self

    def span_ms(self) -> tuple[int, int]:
        """``[start, end)`` of the configured span, ms UTC (an empty ``end`` is now)."""
        start = parse_time_ms(self.start, "start")
        end = parse_time_ms(self.end, "end") if self.end else int(time.time() * 1000)
        return start, end
