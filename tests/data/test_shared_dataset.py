"""The shared real dataset imports whole, and validation reproduces the manifest's gap counts exactly."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from asterrl.data.importer import infer_spec
from asterrl.data.io import read_table
from asterrl.data.schema import SeriesKey, interval_ms
from asterrl.data.store import MarketStore
from asterrl.data.validate import validate

pytestmark = pytest.mark.shared_data


def manifest(shared: Path) -> pd.DataFrame:
    frame = pd.read_csv(shared / "manifest.csv")
    return frame[frame["kind"].isin(["ohlcv", "funding", "mark"])].reset_index(drop=True)


@pytest.mark.slow
def test_import_every_bar_funding_and_mark_file(cli, shared_data: Path, _isolated_home: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("data", "import", shared_data)
    assert result.code == 0, result.err
    stored = {(i.key.kind.value, i.key.market.value, i.key.symbol, i.key.interval or "-"): i.rows
              for i in MarketStore(_isolated_home / "store").list()}  # fmt: skip
    expected = {
        (r.kind, r.market, r.symbol, r.timeframe): int(r.rows) for r in manifest(shared_data).itertuples()
    }
    assert stored == expected
    again = cli("data", "import", shared_data)
    assert again.code == 0
    assert all(" 0 rows added, 0 updated" in line for line in again.out.splitlines() if "rows added" in line)


def test_validate_reports_the_known_gaps_exactly(shared_data: Path) -> None:
    rows = manifest(shared_data)
    checked = 0
    for row in rows[rows["kind"] != "funding"].itertuples():
        path = shared_data / row.file
        spec = infer_spec(path)
        frame, kind = read_table(path, spec.kind)
        key = SeriesKey(kind, spec.market, spec.symbol, spec.interval)
        assert key.interval == row.timeframe
        report, _ = validate(frame, kind, interval_ms(row.timeframe))
        assert report.usable, report.format()
        assert (len(report.gaps), report.missing_bars) == (int(row.gaps), int(row.missing_bars)), row.file
        assert report.rows == int(row.rows)
        checked += 1
    assert checked == 20


def test_btcusdt_spot_1h_report(cli, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("data", "validate", shared_data / "spot_ohlcv" / "BTCUSDT_1h.csv.gz")
    assert result.code == 0
    assert "gaps: 27 (122 missing bars), longest 33 bars after 2018-02-08 00:00" in result.out
    assert "2018-02-08 00:00 -> 2018-02-09 10:00 (33 bars)" in result.out
    assert "2023-03-24 12:00 -> 2023-03-24 14:00 (1 bars)" in result.out
