"""Readers for market-data files: CSV (optionally gzip-compressed) and Parquet, into the canonical schema.

Every failure is a ``DataError`` whose message names the file and the problem in one line, so the command
line can report it without a traceback.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from asterrl.data.schema import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, DataKind
from asterrl.errors import DataError

#: Alternative column names accepted on input (left) for the canonical ones (right).
_ALIASES = {
    "open_time": "timestamp",
    "opentime": "timestamp",
    "time": "timestamp",
    "fundingtime": "timestamp",
    "funding_time": "timestamp",
    "fundingrate": "funding_rate",
    "quotevolume": "quote_volume",
    "quote_asset_volume": "quote_volume",
    "number_of_trades": "trades",
    "count": "trades",
    "taker_buy_base_asset_volume": "taker_buy_volume",
    "takerbuybase": "taker_buy_volume",
}
_DATETIME_COLUMNS = ("date", "datetime")
_INT_COLUMNS = {"timestamp", "trades"}


class NotMarketDataError(DataError):
    """The table's columns match none of the known kinds (e.g. a manifest beside the data files)."""

    def __init__(self, source: str, columns: list[str]) -> None:
        self.reason = "columns " + ", ".join(columns[:8]) + " match no known kind"
        super().__init__(
            f"{source}: {self.reason} (ohlcv needs timestamp,open,high,low,close,volume; funding needs "
            "timestamp,funding_rate; mark needs timestamp,mark_open,mark_high,mark_low,mark_close)"
        )


def detect_kind(columns: list[str], source: str = "table") -> DataKind:
    """The kind whose required columns are all present; bars win over mark when both could match."""
    present = set(columns)
    for kind in (DataKind.OHLCV, DataKind.MARK, DataKind.FUNDING):
        if set(REQUIRED_COLUMNS[kind]) <= present:
            return kind
    raise NotMarketDataError(source, columns)


def read_table(path: str | Path, kind: DataKind | str | None = None) -> tuple[pd.DataFrame, DataKind]:
    """Read a CSV(.gz) or Parquet file into the canonical schema of ``kind`` (detected when ``None``).

    :param path: file to read.
    :param kind: expected kind; a file holding another kind is rejected.
    :return: the conformed frame (rows in file order, nothing dropped or sorted) and its kind.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if not path.is_file():
        raise DataError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty")
    table = _read_parquet(path) if path.suffix == ".parquet" else _read_csv(path)
    frame = table.to_pandas()
    frame.columns = [_canonical_name(str(c)) for c in frame.columns]
    if frame.empty:
        raise DataError(f"{path}: file has a header but no rows")
    return conform(frame, kind, source=str(path))


def conform(
    frame: pd.DataFrame, kind: DataKind | str | None = None, source: str = "frame"
) -> tuple[pd.DataFrame, DataKind]:
    """Cast a frame to the canonical columns and dtypes of ``kind``, raising ``DataError`` on bad content."""
    frame = frame.rename(columns={c: _canonical_name(str(c)) for c in frame.columns})
    if "timestamp" not in frame.columns:
        for name in _DATETIME_COLUMNS:
            if name in frame.columns:
                frame = frame.assign(timestamp=_datetime_to_ms(frame[name], source, name))
                break
    found = detect_kind(list(frame.columns), source) if kind is None else DataKind(kind)
    missing = [c for c in REQUIRED_COLUMNS[found] if c not in frame.columns]
    if missing:
        actual = detect_kind(list(frame.columns)) if _any_kind(frame) else None
        if actual is not None and actual is not found:
            raise DataError(f"{source}: file holds {actual.value} data, not {found.value}")
        raise DataError(f"{source}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    columns = list(REQUIRED_COLUMNS[found]) + [c for c in OPTIONAL_COLUMNS[found] if c in frame.columns]
    out = {name: _numeric(frame[name], name, source) for name in columns}
    return pd.DataFrame(out), found


def _any_kind(frame: pd.DataFrame) -> bool:
    try:
        detect_kind(list(frame.columns))
    except DataError:
        return False
    return True


def _canonical_name(name: str) -> str:
    key = name.strip().lower().replace(" ", "_")
    return _ALIASES.get(key, key)


def _numeric(series: pd.Series, name: str, source: str) -> np.ndarray:
    """Column as int64 (timestamp, trades) or float64; names the first non-numeric value on failure."""
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        if name not in _INT_COLUMNS:
            return series.to_numpy(dtype=np.float64)
        if pd.api.types.is_integer_dtype(series.dtype):
            return series.to_numpy(dtype=np.int64)
    values = pd.to_numeric(series, errors="coerce")
    bad = values.isna() & series.notna()
    if name in _INT_COLUMNS:
        bad |= series.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"{source}: column {name!r} has a non-numeric value {str(series.iloc[row])[:40]!r} "
            f"at data row {row + 1}"
        )
    if name in _INT_COLUMNS:
        as_float = values.to_numpy(dtype=np.float64)
        if not np.all(np.isfinite(as_float)) or np.any(as_float != np.round(as_float)):
            raise DataError(f"{source}: column {name!r} must hold whole numbers (epoch ms for timestamp)")
        return values.to_numpy(dtype=np.int64)
    return values.to_numpy(dtype=np.float64)


def _datetime_to_ms(series: pd.Series, source: str, name: str) -> np.ndarray:
    try:
        parsed = pd.to_datetime(series, utc=True)
    except (ValueError, TypeError) as exc:
        raise DataError(f"{source}: column {name!r} is not a date/time: {exc}") from None
    return (parsed.astype("datetime64[ms, UTC]").astype("int64")).to_numpy()


def _read_csv(path: Path) -> pa.Table:
    """Parse with pyarrow (decompression streamed beside a multi-threaded parser)."""
    compressed = path.suffix == ".gz" or _has_gzip_magic(path)
    try:
        stream = pa.input_stream(str(path), compression="gzip" if compressed else None)
        return pacsv.read_csv(
            stream,
            read_options=pacsv.ReadOptions(block_size=1 << 24),
            convert_options=pacsv.ConvertOptions(null_values=[""], strings_can_be_null=True),
        )
    except (pa.ArrowException, OSError, EOFError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "Empty CSV file" in message:
            raise DataError(f"{path}: file is empty") from None
        if compressed and any(w in message.lower() for w in ("gzip", "zlib", "compress", "inflate", "eof")):
            raise DataError(f"{path}: cannot decompress (truncated or corrupt gzip stream)") from None
        raise DataError(f"{path}: not a valid CSV table ({message})") from None


def _read_parquet(path: Path) -> pa.Table:
    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{path}: not a valid Parquet file ({str(exc).splitlines()[0]})") from None


def _has_gzip_magic(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == b"\x1f\x8b"
