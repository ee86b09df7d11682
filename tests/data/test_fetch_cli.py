"""`asterrl data fetch` and `load_market` against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from asterrl.data.market import load_market
from asterrl.data.schema import DataKind, Market, SeriesKey
from asterrl.data.sources.synthetic import SyntheticMarket
from asterrl.data.store import MarketStore
from asterrl.exchange.local.market_data import MarketDataBook
from asterrl.exchange.local.server import LocalAsterServer
from experiments.config import load_config

START, END = "2023-01-01", "2023-12-01"  # 8016 hourly bars: six pages of at most 1500
BARS = SeriesKey(DataKind.OHLCV, Market.PERP, "BTCUSDT", "1h")
FUNDING = SeriesKey(DataKind.FUNDING, Market.PERP, "BTCUSDT", None)
MARK = SeriesKey(DataKind.MARK, Market.PERP, "BTCUSDT", "1h")


@pytest.fixture(scope="module")
def held() -> dict[DataKind, pd.DataFrame]:
    """What the venue holds: a synthetic year of BTCUSDT (bars, funding, mark)."""
    market = SyntheticMarket(seed=11)
    start, end = 1_672_531_200_000, 1_704_067_200_000  # 2023
    return {key.kind: market.fetch(key, start, end) for key in (BARS, FUNDING, MARK)}


def serve(held: dict[DataKind, pd.DataFrame]) -> LocalAsterServer:
    book = MarketDataBook()
    book.add_bars("BTCUSDT", "1h", held[DataKind.OHLCV])
    book.add_funding("BTCUSDT", held[DataKind.FUNDING])
    book.add_mark("BTCUSDT", "1h", held[DataKind.MARK])
    return LocalAsterServer(book)


@pytest.fixture
def aster(held: dict[DataKind, pd.DataFrame]) -> Iterator[LocalAsterServer]:
    with serve(held) as server:
        yield server


def overrides(aster_url: str, binance_url: str) -> list[str]:
    return [f"data.endpoints.aster_url={aster_url}", f"data.endpoints.binance_url={binance_url}",
            f"data.start={START}", f"data.end={END}", "data.endpoints.max_retries=2"]  # fmt: skip


def expected(held: dict[DataKind, pd.DataFrame], kind: DataKind) -> pd.DataFrame:
    frame = held[kind]
    ts = frame["timestamp"]
    return frame[(ts >= 1_672_531_200_000) & (ts < 1_701_388_800_000)].reset_index(drop=True)


def test_multi_page_fetch_survives_429_and_500_and_refetch_adds_nothing(  # type: ignore[no-untyped-def]
    cli, aster: LocalAsterServer, held: dict[DataKind, pd.DataFrame], _isolated_home: Path
) -> None:
    aster.inject(429, retry_after=1, path="/fapi/v1/klines")
    aster.inject(500, path="/fapi/v1/klines")
    args = overrides(aster.base_url, "http://127.0.0.1:9")
    first = cli("data", "fetch", *args)
    assert first.code == 0, first.err
    assert "perp BTCUSDT 1h ohlcv: 8016 rows added" in first.out
    store = MarketStore(_isolated_home / "store")
    for key in (BARS, FUNDING, MARK):
        pd.testing.assert_frame_equal(store.read(key), expected(held, key.kind), check_exact=True)
    meta = json.loads((store.series_dir(BARS) / "meta.json").read_text())
    assert meta["source"] == "aster"
    second = cli("data", "fetch", *args)
    assert second.code == 0
    assert [line for line in second.out.splitlines() if "rows added" in line] == [
        "perp BTCUSDT 1h ohlcv: 0 rows added, 0 updated, 8016 stored",
        "perp BTCUSDT funding: 0 rows added, 0 updated, 1002 stored",
        "perp BTCUSDT 1h mark: 0 rows added, 0 updated, 8016 stored",
    ]


def test_binance_serves_when_aster_is_down(  # type: ignore[no-untyped-def]
    cli, aster: LocalAsterServer, held: dict[DataKind, pd.DataFrame], _isolated_home: Path
) -> None:
    with serve(held) as binance:
        aster.inject(503, times=100)
        result = cli("data", "fetch", *overrides(aster.base_url, binance.base_url))
    assert result.code == 0, result.err
    store = MarketStore(_isolated_home / "store")
    assert json.loads((store.series_dir(BARS) / "meta.json").read_text())["source"] == "binance"
    assert len(store.read(BARS)) == 8016


def test_load_market_fetches_once_then_reads_the_store(
    aster: LocalAsterServer, held: dict[DataKind, pd.DataFrame]
) -> None:
    cfg = load_config(overrides(aster.base_url, "http://127.0.0.1:9"))
    first = load_market(cfg.data, show_progress=False)
    requests_after_first = len(aster.requests)
    second = load_market(cfg.data, show_progress=False)
    assert len(aster.requests) == requests_after_first  # served from the store
    assert first.data_hash == second.data_hash
    pd.testing.assert_frame_equal(second.bars, expected(held, DataKind.OHLCV), check_exact=True)


def test_unknown_symbol_is_one_line(cli, aster: LocalAsterServer) -> None:  # type: ignore[no-untyped-def]
    result = cli("data", "fetch", *overrides(aster.base_url, "http://127.0.0.1:9"), "data.symbol=NOPEUSDT")
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "-1121" in lines[0] and "NOPEUSDT" in lines[0], result.err
