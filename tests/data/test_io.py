from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from asterrl.data.io import read_table
from asterrl.data.schema import DataKind
from asterrl.errors import DataError
from tests.data.frames import T0, bars


def test_reads_csv_gz_and_parquet_to_the_same_canonical_frame(tmp_path: Path) -> None:
    frame = bars(5)
    frame.to_csv(tmp_path / "a.csv.gz", index=False, compression="gzip")
    frame.to_parquet(tmp_path / "a.parquet", index=False)
    for name in ("a.csv.gz", "a.parquet"):
        got, kind = read_table(tmp_path / name)
        assert kind is DataKind.OHLCV
        assert got["timestamp"].dtype == np.int64
        assert got["close"].dtype == np.float64
        pd.testing.assert_frame_equal(got, frame)


def test_gzip_detected_by_content_even_without_extension(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    path.write_bytes(gzip.compress(bars(3).to_csv(index=False).encode()))
    got, _ = read_table(path)
    assert got["close"].tolist() == [101.0, 102.0, 103.0]


def test_aliases_and_datetime_column(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("date,open,high,low,close,volume,Quote_Asset_Volume\n"
                    "2023-11-14 22:00:00+00:00,1,2,0.5,1.5,3,4.5\n")  # fmt: skip
    got, kind = read_table(path)
    assert kind is DataKind.OHLCV
    assert got.columns.tolist() == ["timestamp", "open", "high", "low", "close", "volume", "quote_volume"]
    assert got["timestamp"].iloc[0] == T0


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("timestamp,open,high,low,volume\n1,1,1,1,1\n", "missing column close"),
        ("timestamp,open,high,low,close,volume\n1,1,1,1,abc,1\n2,1,1,1,1,1\n",
         "column 'close' has a non-numeric value 'abc' at data row 1"),
        ("timestamp,funding_rate\n1,0.0001\n", "file holds funding data, not ohlcv"),
        ("timestamp,open,high,low,close,volume\n", "header but no rows"),
        ("", "file is empty"),
        ("timestamp,open,high,low,close,volume\n1.5,1,1,1,1,1\n", "whole numbers"),
    ],
)  # fmt: skip
def test_bad_content_is_one_clear_error(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=expected) as info:
        read_table(path, DataKind.OHLCV)
    assert "\n" not in str(info.value)


def test_truncated_gzip(tmp_path: Path) -> None:
    payload = gzip.compress(bars(2000).to_csv(index=False).encode())
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(payload[: len(payload) // 2])
    with pytest.raises(DataError, match="truncated or corrupt gzip"):
        read_table(path)


def test_unknown_columns(tmp_path: Path) -> None:
    path = tmp_path / "manifest.csv"
    path.write_text("file,rows\na,1\n")
    with pytest.raises(DataError, match="match no known kind"):
        read_table(path)
