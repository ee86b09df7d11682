"""The embedded market-data store: Parquet files partitioned by kind/market/symbol/interval, read with DuckDB.

Layout under ``root``::

    kind=ohlcv/market=perp/symbol=BTCUSDT/interval=1h/data.parquet
    kind=funding/market=perp/symbol=BTCUSDT/data.parquet

Writes are upserts keyed by ``timestamp`` (re-importing or re-fetching a span leaves one copy; a newer value
for an existing timestamp replaces the old, as when an exchange revises a kline) and atomic: the new version
is written to a temporary file in the same folder, flushed to disk and renamed over the old one
(``asterrl.files``), so a writer killed at any point leaves the previous version readable. A per-series lock
file serialises writers.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from asterrl.data.schema import OPTIONAL_COLUMNS, QUALITY_COLUMN, REQUIRED_COLUMNS, DataKind, SeriesKey
from asterrl.errors import StoreError
from asterrl.files import atomic_path, atomic_write, remove_stale_temporaries

_DATA_FILE = "data.parquet"
_META_FILE = "meta.json"


@dataclass(frozen=True)
class WriteResult:
    """Outcome of one upsert: rows new to the store, rows whose values changed, rows stored afterwards."""

    key: SeriesKey
    added: int
    updated: int
    total: int


@dataclass(frozen=True)
class SeriesInfo:
    """One stored series, as listed by ``MarketStore.list``."""

    key: SeriesKey
    rows: int
    first_ms: int
    last_ms: int
    source: str


class MarketStore:
    """Read and write canonical market-data series under one root folder."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()

    # ----------------------------------------------------------------------------------------------- paths
    def series_dir(self, key: SeriesKey) -> Path:
        path = self.root / f"kind={key.kind.value}" / f"market={key.market.value}" / f"symbol={key.symbol}"
        return path / f"interval={key.interval}" if key.interval else path

    def data_path(self, key: SeriesKey) -> Path:
        return self.series_dir(key) / _DATA_FILE

    def has(self, key: SeriesKey) -> bool:
        return self.data_path(key).exists()

    # ------------------------------------------------------------------------------------------------ write
    def write(self, key: SeriesKey, frame: pd.DataFrame, source: str = "unknown") -> WriteResult:
        """Upsert canonical rows of ``key`` (validated beforehand) and return what changed."""
        columns = _columns_for(key.kind, frame)
        missing = [c for c in REQUIRED_COLUMNS[key.kind] if c not in frame.columns]
        if missing:
            raise StoreError(f"cannot store {key.label()}: missing columns {', '.join(missing)}")
        new = frame[columns].sort_values("timestamp", kind="stable")
        if new["timestamp"].duplicated().any():
            raise StoreError(f"cannot store {key.label()}: duplicate timestamps in the rows to write")
        folder = self.series_dir(key)
        folder.mkdir(parents=True, exist_ok=True)
        with _locked(folder / ".lock"):
            remove_stale_temporaries(folder)
            old = self._read_file(key) if self.has(key) else None
            merged, added, updated = _upsert(old, new)
            if old is not None and added == 0 and updated == 0:
                return WriteResult(key, 0, 0, len(old))
            _atomic_write_parquet(merged, folder / _DATA_FILE)
            meta = {
                "key": {"kind": key.kind.value, "market": key.market.value, "symbol": key.symbol},
                "interval": key.interval,
                "rows": len(merged),
                "first_ms": int(merged["timestamp"].iloc[0]),
                "last_ms": int(merged["timestamp"].iloc[-1]),
                "source": source,
                "sha256": frame_hash(merged),
            }
            atomic_write(folder / _META_FILE, json.dumps(meta, indent=1))
        return WriteResult(key, added, updated, len(merged))

    # ------------------------------------------------------------------------------------------------- read
    def read(self, key: SeriesKey, start_ms: int | None = None, end_ms: int | None = None) -> pd.DataFrame:
        """Rows of ``key`` with ``start_ms <= timestamp < end_ms`` (bounds optional), ascending."""
        path = self.data_path(key)
        if not path.exists():
            raise StoreError(f"no stored data for {key.label()} under {self.root}")
        query = f"SELECT * FROM read_parquet('{_sql_path(path)}', hive_partitioning=false)"
        clauses, params = [], []
        if start_ms is not None:
            clauses.append("timestamp >= ?")
            params.append(int(start_ms))
        if end_ms is not None:
            clauses.append("timestamp < ?")
            params.append(int(end_ms))
        if clauses:
            query += " WHERE " + " AND ".join(clauses)
        query += " ORDER BY timestamp"
        try:
            with duckdb.connect() as con:
                return con.sql(query, params=params).to_arrow_table().to_pandas()
        except duckdb.Error as exc:
            raise StoreError(f"cannot read {key.label()} from {path}: {str(exc).splitlines()[0]}") from None

    def last_timestamp(self, key: SeriesKey) -> int | None:
        """Newest stored timestamp of ``key``, or ``None`` when nothing is stored."""
        meta = self._meta(key)
        return None if meta is None else int(str(meta["last_ms"]))

    def list(self) -> list[SeriesInfo]:
        """Every stored series with its row count and span, sorted by kind, market, symbol, interval."""
        infos = []
        for meta_path in sorted(self.root.glob("kind=*/market=*/symbol=*/**/" + _META_FILE)):
            meta = json.loads(meta_path.read_text())
            k = meta["key"]
            key = SeriesKey(DataKind(k["kind"]), k["market"], k["symbol"], meta.get("interval"))
            infos.append(SeriesInfo(key, int(meta["rows"]), int(meta["first_ms"]), int(meta["last_ms"]),
                                    str(meta.get("source", ""))))  # fmt: skip
        return infos

    def query(self, sql: str) -> pd.DataFrame:
        """Run DuckDB SQL with the views ``ohlcv``, ``funding`` and ``mark`` over the whole store."""
        with duckdb.connect() as con:
            for kind in DataKind:
                pattern = self.root / f"kind={kind.value}" / "**" / _DATA_FILE
                if any(self.root.glob(f"kind={kind.value}/**/{_DATA_FILE}")):
                    con.execute(
                        f"CREATE VIEW {kind.value} AS SELECT * FROM read_parquet('{_sql_path(pattern)}', "
                        "hive_partitioning=true, union_by_name=true)"
                    )
            try:
                return con.sql(sql).to_arrow_table().to_pandas()
            except duckdb.Error as exc:
                raise StoreError(f"query failed: {str(exc).splitlines()[0]}") from None

    def _read_file(self, key: SeriesKey) -> pd.DataFrame:
        try:
            return pq.read_table(self.data_path(key)).to_pandas()
        except (pa.ArrowException, OSError) as exc:
            raise StoreError(f"stored file for {key.label()} is unreadable: {exc}") from None

    def _meta(self, key: SeriesKey) -> dict[str, object] | None:
        path = self.series_dir(key) / _META_FILE
        if not path.exists():
            return None
        meta: dict[str, object] = json.loads(path.read_text())
        return meta


def frame_hash(frame: pd.DataFrame) -> str:
    """sha256 over the column names and values of a frame (stable across runs and machines)."""
    digest = hashlib.sha256()
    for name in frame.columns:
        digest.update(str(name).encode())
        values = np.ascontiguousarray(frame[name].to_numpy())
        digest.update(str(values.dtype).encode())
        digest.update(values.tobytes())
    return digest.hexdigest()


def _columns_for(kind: DataKind, frame: pd.DataFrame) -> list[str]:
    optional = [c for c in (*OPTIONAL_COLUMNS[kind], QUALITY_COLUMN) if c in frame.columns]
    return [*REQUIRED_COLUMNS[kind], *optional]


def _upsert(old: pd.DataFrame | None, new: pd.DataFrame) -> tuple[pd.DataFrame, int, int]:
    """Merge ``new`` over ``old`` by timestamp; count rows added and rows whose values changed."""
    new = new.reset_index(drop=True)
    if old is None or old.empty:
        return new, len(new), 0
    old_ts = old["timestamp"].to_numpy()
    new_ts = new["timestamp"].to_numpy()
    in_old = np.isin(new_ts, old_ts)
    added = int((~in_old).sum())
    common = [c for c in new.columns if c in old.columns]
    overlap_new = new.loc[in_old, common].set_index("timestamp").sort_index()
    overlap_old = old.loc[np.isin(old_ts, new_ts[in_old]), common].set_index("timestamp").sort_index()
    same = (overlap_new.to_numpy() == overlap_old.to_numpy()) | (overlap_new.isna().to_numpy()
                                                                 & overlap_old.isna().to_numpy())  # fmt: skip
    updated = int((~same.all(axis=1)).sum()) if len(overlap_new) else 0
    # Columns only one side has (e.g. quality flags) are carried with 0 / NaN for the other side's rows.
    kept_old = old.loc[~np.isin(old_ts, new_ts)]
    merged = pd.concat([kept_old, new], ignore_index=True, sort=False)
    if QUALITY_COLUMN in merged.columns:
        merged[QUALITY_COLUMN] = merged[QUALITY_COLUMN].fillna(0).astype(np.int16)
    merged = merged.sort_values("timestamp", kind="stable").reset_index(drop=True)
    return merged, added, updated


def _atomic_write_parquet(frame: pd.DataFrame, target: Path) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    with atomic_path(target) as temporary, temporary.open("wb") as handle:
        pq.write_table(table, handle, compression="zstd", row_group_size=256_000)


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    with lock_path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")
