from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from asterrl.data.schema import DataKind, Market, SeriesKey
from asterrl.data.store import MarketStore, frame_hash
from asterrl.errors import StoreError
from tests.data.frames import HOUR, T0, bars
from tests.processes import kill_when_started

KEY = SeriesKey(DataKind.OHLCV, Market.PERP, "BTCUSDT", "1h")


def test_write_is_an_idempotent_upsert(tmp_path: Path) -> None:
    store = MarketStore(tmp_path)
    first = store.write(KEY, bars(10))
    assert (first.added, first.updated, first.total) == (10, 0, 10)
    again = store.write(KEY, bars(10))
    assert (again.added, again.updated, again.total) == (0, 0, 10)
    # An overlapping later span adds only the new rows.
    later = bars(15).iloc[5:]
    result = store.write(KEY, later)
    assert (result.added, result.updated, result.total) == (5, 0, 15)
    pd.testing.assert_frame_equal(store.read(KEY), bars(15))


def test_revised_bar_replaces_the_old_value(tmp_path: Path) -> None:
    store = MarketStore(tmp_path)
    store.write(KEY, bars(5))
    revised = bars(5).iloc[[2]].copy()
    revised["close"] = 999.0
    revised["high"] = 1000.0
    result = store.write(KEY, revised)
    assert (result.added, result.updated, result.total) == (0, 1, 5)
    assert store.read(KEY)["close"].tolist() == [101.0, 102.0, 999.0, 104.0, 105.0]


def test_read_range_list_and_sql(tmp_path: Path) -> None:
    store = MarketStore(tmp_path)
    store.write(KEY, bars(24), source="test")
    eth = SeriesKey(DataKind.OHLCV, Market.PERP, "ETHUSDT", "1h")
    store.write(eth, bars(3))
    part = store.read(KEY, T0 + 2 * HOUR, T0 + 5 * HOUR)
    assert part["timestamp"].tolist() == [T0 + 2 * HOUR, T0 + 3 * HOUR, T0 + 4 * HOUR]
    assert [(i.key.symbol, i.rows, i.first_ms, i.last_ms) for i in store.list()] == [
        ("BTCUSDT", 24, T0, T0 + 23 * HOUR),
        ("ETHUSDT", 3, T0, T0 + 2 * HOUR),
    ]
    counts = store.query("SELECT symbol, count(*) AS n FROM ohlcv GROUP BY symbol ORDER BY symbol")
    assert counts.to_dict("list") == {"symbol": ["BTCUSDT", "ETHUSDT"], "n": [24, 3]}
    assert store.last_timestamp(KEY) == T0 + 23 * HOUR


def test_missing_series_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no stored data for perp BTCUSDT 1h ohlcv"):
        MarketStore(tmp_path).read(KEY)


def test_quality_flags_survive_a_merge_with_unflagged_rows(tmp_path: Path) -> None:
    store = MarketStore(tmp_path)
    flagged = bars(4).assign(quality_flags=np.array([0, 1, 0, 0], dtype=np.int16))
    store.write(KEY, flagged)
    store.write(KEY, bars(6).iloc[4:])
    assert store.read(KEY)["quality_flags"].tolist() == [0, 1, 0, 0, 0, 0]


def test_frame_hash_depends_on_values() -> None:
    a, b = bars(5), bars(5)
    assert frame_hash(a) == frame_hash(b)
    b.loc[4, "volume"] = 10.000001
    assert frame_hash(a) != frame_hash(b)


@pytest.mark.slow
def test_writer_killed_mid_write_leaves_previous_version_intact(tmp_path: Path) -> None:
    """A real writer process is SIGKILLed while its new Parquet file is half written."""
    store = MarketStore(tmp_path / "store")
    v1 = bars(1000)
    store.write(KEY, v1)
    marker = tmp_path / "writing"
    kill_when_started(
        f"""
        import time
        from pathlib import Path
        import pyarrow.parquet as pq
        from asterrl.data import store as st
        from tests.data.frames import bars
        real_write = pq.write_table

        def half_write_then_hang(table, where, **kwargs):
            real_write(table.slice(0, len(table) // 2), where, **kwargs)
            where.flush()
            Path({str(marker)!r}).touch()
            time.sleep(120)

        st.pq.write_table = half_write_then_hang
        st.MarketStore({str(store.root)!r}).write(st.SeriesKey("ohlcv", "perp", "BTCUSDT", "1h"), bars(5000))
        """,
        marker,
    )
    leftovers = list(store.series_dir(KEY).glob(".*.tmp-*"))
    assert leftovers, "the killed writer should have left its partial temporary file"
    pd.testing.assert_frame_equal(store.read(KEY), v1)
    assert store.list()[0].rows == 1000
    # The next writer cleans up and proceeds normally.
    assert store.write(KEY, bars(1001)).added == 1
    assert not list(store.series_dir(KEY).glob(".*.tmp-*"))
