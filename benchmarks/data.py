"""Benchmark: import + validate + read back 1,000,000 bars through the data layer.

Prints the time of each stage and of the round trip (file -> validated -> Parquet store -> DuckDB read).
Run: ``.venv/bin/python benchmarks/data.py [--bars N] [--format csv.gz|csv|parquet]``.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from asterrl.data.importer import FileSpec, import_file
from asterrl.data.io import read_table
from asterrl.data.schema import DataKind, Market, SeriesKey, interval_ms
from asterrl.data.store import MarketStore
from asterrl.data.validate import validate


def make_bars(n: int, seed: int = 7) -> pd.DataFrame:
    """A 1-minute random-walk bar series with consistent OHLC and positive volume."""
    rng = np.random.default_rng(seed)
    step = interval_ms("1m")
    ts = 1_600_000_000_000 // step * step + np.arange(n, dtype=np.int64) * step
    close = 30_000.0 * np.exp(np.cumsum(rng.normal(0.0, 1e-3, n)))
    open_ = np.concatenate(([30_000.0], close[:-1]))
    spread = np.abs(rng.normal(0.0, 5e-4, n)) * close
    high = np.maximum(open_, close) + spread
    low = np.minimum(open_, close) - spread
    volume = rng.gamma(2.0, 5.0, n)
    return pd.DataFrame({"timestamp": ts, "open": open_, "high": high, "low": low, "close": close,
                         "volume": volume})  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--format", choices=["csv.gz", "csv", "parquet"], default="csv.gz")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    frame = make_bars(args.bars)
    key = SeriesKey(DataKind.OHLCV, Market.PERP, "BTCUSDT", "1m")
    print(f"machine: {platform.machine()} {platform.processor() or ''} cores={__import__('os').cpu_count()}")
    print(f"bars: {args.bars:,}  input format: {args.format}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"BTCUSDT_1m.{args.format}"
        if args.format == "parquet":
            frame.to_parquet(path, index=False)
        else:
            frame.to_csv(path, index=False, compression="gzip" if args.format.endswith("gz") else None)
        print(f"file size: {path.stat().st_size / 1e6:.1f} MB")
        best: dict[str, float] = {}
        for attempt in range(args.repeat):
            store = MarketStore(Path(tmp) / f"store{attempt}")
            t0 = time.perf_counter()
            table, kind = read_table(path, DataKind.OHLCV)
            t1 = time.perf_counter()
            report, cleaned = validate(table, kind, interval_ms("1m"))
            t2 = time.perf_counter()
            store.write(key, cleaned)
            t3 = time.perf_counter()
            back = store.read(key)
            t4 = time.perf_counter()
            assert report.usable and len(back) == args.bars
            # The same through the public import path (read + validate + write in one call).
            t5 = time.perf_counter()
            import_file(MarketStore(Path(tmp) / f"store_api{attempt}"),
                        FileSpec(path, DataKind.OHLCV, Market.PERP, "BTCUSDT", "1m"))  # fmt: skip
            t6 = time.perf_counter()
            for name, value in (("read file", t1 - t0), ("validate", t2 - t1), ("write store", t3 - t2),
                                ("read back (DuckDB)", t4 - t3), ("round trip", t4 - t0),
                                ("import_file + read back", t6 - t5 + t4 - t3)):  # fmt: skip
                best[name] = min(best.get(name, float("inf")), value)
    for name, value in best.items():
        print(f"{name:<26}{value:8.3f} s")
    print(f"round trip: {args.bars / best['round trip'] / 1e6:.2f} M bars/s (best of {args.repeat})")


if __name__ == "__main__":
    main()
