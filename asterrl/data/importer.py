"""File import into the store: read, validate, and upsert atomically (nothing is written unless usable)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from asterrl.data.io import read_table
from asterrl.data.schema import DataKind, Market, SeriesKey, normalize_symbol
from asterrl.data.store import MarketStore, WriteResult
from asterrl.data.validate import ValidationPolicy, ValidationReport, require_usable, validate_series
from asterrl.errors import DataError

DATA_SUFFIXES = (".csv", ".csv.gz", ".parquet")
_INTERVAL_IN_NAME = re.compile(r"(?:^|[_\-.])(\d+[mhdw])(?=$|[_\-.])")
_SYMBOL_IN_NAME = re.compile(r"^([A-Za-z0-9]+?)(?:[_\-.]|$)")


def default_store_root() -> Path:
    """``$ASTERRL_HOME/store``, with ``ASTERRL_HOME`` defaulting to ``~/.asterrl``."""
    home = os.environ.get("ASTERRL_HOME") or str(Path.home() / ".asterrl")
    return Path(home).expanduser() / "store"


@dataclass(frozen=True)
class FileSpec:
    """What one file holds, given on the command line or inferred from its path."""

    path: Path
    kind: DataKind | None
    market: Market
    symbol: str
    interval: str | None


def infer_spec(
    path: Path,
    symbol: str | None = None,
    interval: str | None = None,
    kind: DataKind | str | None = None,
    market: Market | str | None = None,
) -> FileSpec:
    """Fill what was not given from the path: ``perp_ohlcv/BTCUSDT_1h.csv.gz`` is perp BTCUSDT 1h bars.

    The folder names of the shared dataset (``perp_ohlcv``, ``spot_ohlcv``, ``perp_funding``, ``perp_mark``)
    and file names of the form ``SYMBOL_<interval>[...]`` are understood.
    """
    name = path.name
    parent = path.parent.name.lower()
    if kind is None:
        for candidate in DataKind:
            if parent.endswith(candidate.value) or f"_{candidate.value}" in name.lower():
                kind = candidate
                break
    if market is None:
        market = Market.SPOT if parent.startswith("spot") else Market.PERP
    if symbol is None:
        match = _SYMBOL_IN_NAME.match(name)
        if not match:
            raise DataError(f"{path}: cannot tell the symbol from the file name; pass --symbol")
        symbol = match.group(1)
    found_kind = DataKind(kind) if kind is not None else None
    if interval is None and found_kind is not DataKind.FUNDING:
        match = _INTERVAL_IN_NAME.search(name.split(".")[0])
        interval = match.group(1) if match else None
    return FileSpec(path, found_kind, Market(market), normalize_symbol(symbol), interval)


def read_and_validate(
    spec: FileSpec, policy: ValidationPolicy | None = None
) -> tuple[SeriesKey, ValidationReport, pd.DataFrame]:
    """Read one file and validate it as the series ``spec`` names; nothing is written."""
    frame, kind = read_table(spec.path, spec.kind)
    if kind is not DataKind.FUNDING and spec.interval is None:
        raise DataError(f"{spec.path}: cannot tell the bar interval from the file name; pass --interval")
    key = SeriesKey(kind, spec.market, spec.symbol, spec.interval)
    report, cleaned = validate_series(frame, key, policy, source=str(spec.path))
    return key, report, cleaned


def import_file(
    store: MarketStore, spec: FileSpec, policy: ValidationPolicy | None = None
) -> tuple[ValidationReport, WriteResult]:
    """Read, validate and store one file; the store is untouched unless the data is usable."""
    key, report, cleaned = read_and_validate(spec, policy)
    require_usable(report)
    return report, store.write(key, cleaned, source=f"file:{spec.path.resolve()}")


def data_files(folder: Path) -> list[Path]:
    """Files under ``folder`` that hold bars, funding or mark price (microstructure captures excluded)."""
    files = [
        p
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name.endswith(DATA_SUFFIXES) and "microstructure" not in p.parts
    ]
    if not files:
        raise DataError(f"{folder}: no .csv, .csv.gz or .parquet files found")
    return files
