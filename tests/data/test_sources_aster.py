"""The Aster source against a real HTTP server on 127.0.0.1 holding known rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from asterrl.data.schema import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, DataKind, Market, SeriesKey
from asterrl.data.sources.aster import AsterSource
from asterrl.data.sources.base import MarketDataSource
from asterrl.data.sources.http import RetryPolicy, SourceUnavailableError
from asterrl.data.sources.synthetic import SyntheticConfig, SyntheticMarket
from asterrl.data.store import MarketStore
from asterrl.errors import SourceError
from asterrl.exchange.local import LocalAsterServer, ManualClock, MarketDataBook

M = 60_000
H = 60 * M
T0 = 1_577_923_200_000  # 2020-01-02 00:00 UTC, one day after the synthetic origin
N_BARS = 4000  # three pages of at most 1500
N_FUNDING = 2500  # three pages of at most 1000
BARS = SeriesKey(DataKind.OHLCV, Market.PERP, "BTCUSDT", "1m")
MARK = SeriesKey(DataKind.MARK, Market.PERP, "BTCUSDT", "1m")
FUNDING = SeriesKey(DataKind.FUNDING, Market.PERP, "BTCUSDT", None)


@pytest.fixture(scope="module")
def held() -> dict[str, pd.DataFrame]:
    """What the server holds: synthetic 1m bars and mark klines, and a hand-made funding history."""
    path = SyntheticMarket(SyntheticConfig(), seed=11).path("BTCUSDT", "1m", T0, T0 + N_BARS * M)
    i = np.arange(N_FUNDING)
    funding = pd.DataFrame(
        {"timestamp": T0 - N_FUNDING * 8 * H + 8 * H * i, "funding_rate": 1e-4 * np.sin(i)}
    )
    return {"bars": path.bars, "mark": path.mark, "funding": funding}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock((T0 + N_BARS * M) / 1000)  # the last bar closed a millisecond ago


@pytest.fixture
def server(held: dict[str, pd.DataFrame], clock: ManualClock) -> Iterator[LocalAsterServer]:
    book = MarketDataBook()
    book.add_bars("BTCUSDT", "1m", held["bars"])
    book.add_mark("BTCUSDT", "1m", held["mark"])
    book.add_funding("BTCUSDT", held["funding"])
    with LocalAsterServer(book, now_ms=clock.ms) as srv:
        yield srv


@pytest.fixture
def source(server: LocalAsterServer, clock: ManualClock) -> Iterator[AsterSource]:
    with AsterSource(server.base_url, sleep=clock.sleep, clock=clock.time, timeout_s=5.0) as src:
        yield src


def test_is_a_market_data_source(source: AsterSource) -> None:
    assert isinstance(source, MarketDataSource)
    assert source.name == "aster"


def test_multi_page_fetch_survives_faults_and_a_second_write_adds_nothing(
    server: LocalAsterServer, source: AsterSource, held: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    server.inject(429, retry_after=1, path="/fapi/v1/klines")
    server.inject(500, path="/fapi/v1/klines")
    frame = source.fetch(BARS, T0, T0 + N_BARS * M)
    pd.testing.assert_frame_equal(frame, held["bars"], check_exact=True)
    assert frame.attrs["source"] == "aster"
    klines = [r.status for r in server.requests if r.path == "/fapi/v1/klines"]
    assert klines == [429, 500, 200, 200, 200]  # 4000 rows: pages of 1500, 1500, 1000
    store = MarketStore(tmp_path)
    assert store.write(BARS, frame, source="aster").added == N_BARS
    again = store.write(BARS, source.fetch(BARS, T0, T0 + N_BARS * M), source="aster")
    assert (again.added, again.updated, again.total) == (0, 0, N_BARS)


def test_a_sub_span_returns_exactly_its_rows(source: AsterSource, held: dict[str, pd.DataFrame]) -> None:
    frame = source.fetch(BARS, T0 + 100 * M + 1, T0 + 3100 * M)  # bar 100 opened before the start
    expected = held["bars"].iloc[101:3100].reset_index(drop=True)
    pd.testing.assert_frame_equal(frame, expected, check_exact=True)


@pytest.mark.parametrize(
    ("server_ms", "n_closed"), [(T0 + N_BARS * M - 1, N_BARS - 1), (T0 + 3999 * M + 30_000, 3999)]
)
def test_bars_still_open_at_the_server_time_are_dropped(
    held: dict[str, pd.DataFrame], server_ms: int, n_closed: int
) -> None:
    at = ManualClock(server_ms / 1000)
    book = MarketDataBook()
    book.add_bars("BTCUSDT", "1m", held["bars"])
    with LocalAsterServer(book, now_ms=at.ms) as srv, AsterSource(srv.base_url, clock=at.time) as src:
        frame = src.fetch(BARS, T0, T0 + 10 * N_BARS * M)
    pd.testing.assert_frame_equal(frame, held["bars"].iloc[:n_closed], check_exact=True)


def test_progress_is_reported_per_page(source: AsterSource) -> None:
    calls: list[tuple[int, int]] = []
    source.fetch(BARS, T0, T0 + N_BARS * M, progress=lambda rows, ms: calls.append((rows, ms)))
    assert calls == [(1500, 1500 * M), (3000, 3000 * M), (4000, 4000 * M)]


def test_mark_klines(source: AsterSource, held: dict[str, pd.DataFrame]) -> None:
    frame = source.fetch(MARK, T0, T0 + N_BARS * M)
    pd.testing.assert_frame_equal(frame, held["mark"], check_exact=True)


def test_funding_history_pages_through_every_row(
    server: LocalAsterServer, source: AsterSource, held: dict[str, pd.DataFrame]
) -> None:
    first = int(held["funding"]["timestamp"].iloc[0])
    frame = source.fetch(FUNDING, first, T0 + N_BARS * M)
    pd.testing.assert_frame_equal(frame, held["funding"], check_exact=True)
    assert [r.params["limit"] for r in server.requests if r.path == "/fapi/v1/fundingRate"] == ["1000"] * 3


def test_funding_times_are_put_on_the_minute_grid(clock: ManualClock) -> None:
    jittered = pd.DataFrame(
        {"timestamp": [T0 + 3, T0 + 8 * H + 29_999, T0 + 16 * H - 2], "funding_rate": 1e-4}
    )
    book = MarketDataBook()
    book.add_funding("BTCUSDT", jittered)
    with LocalAsterServer(book, now_ms=clock.ms) as srv, AsterSource(srv.base_url, clock=clock.time) as src:
        frame = src.fetch(FUNDING, T0, T0 + 24 * H)
    assert frame["timestamp"].tolist() == [T0, T0 + 8 * H, T0 + 16 * H]


def test_weight_budget_waits_for_the_next_minute(server: LocalAsterServer, clock: ManualClock) -> None:
    clock.advance(60 - (clock.time() % 60))  # start on a minute boundary
    # budget 25: /time (1) + two 1500-row pages (10 each) fit, the third page waits for the next minute
    with AsterSource(
        server.base_url, weight_limit=100, weight_budget_fraction=0.25, sleep=clock.sleep, clock=clock.time
    ) as src:
        src.fetch(BARS, T0, T0 + N_BARS * M)
    assert clock.sleeps == [pytest.approx(60.05)]
    assert [r.weight for r in server.requests] == [1, 10, 10, 10]
    assert server.used_weight() == 10  # the server's minute rolled with the shared clock


def test_the_servers_own_rate_limit_is_waited_out(held: dict[str, pd.DataFrame], clock: ManualClock) -> None:
    book = MarketDataBook()
    book.add_bars("BTCUSDT", "1m", held["bars"])
    with (
        LocalAsterServer(book, now_ms=clock.ms, weight_limit=15) as srv,
        AsterSource(srv.base_url, sleep=clock.sleep, clock=clock.time) as src,
    ):
        frame = src.fetch(BARS, T0, T0 + N_BARS * M)
        statuses = [r.status for r in srv.requests]
    pd.testing.assert_frame_equal(frame, held["bars"], check_exact=True)
    # rejected requests count too: minute 1: /time 1 + page 10 fit, the next 10 make 21 > 15; minute 2: 10
    # fit, 20 do not; minute 3: 10. Each Retry-After is 60 s: the clock sits on a minute boundary.
    assert statuses == [200, 200, 429, 200, 429, 200]
    assert clock.sleeps == [60.0, 60.0]


def test_unknown_symbol_is_one_clear_line(source: AsterSource) -> None:
    key = SeriesKey(DataKind.OHLCV, Market.PERP, "NOPEUSDT", "1m")
    with pytest.raises(SourceError) as err:
        source.fetch(key, T0, T0 + M)
    assert not isinstance(err.value, SourceUnavailableError)
    assert str(err.value) == (
        "aster: ohlcv klines for NOPEUSDT 1m (/fapi/v1/klines) rejected: HTTP 400, exchange error -1121: "
        "Invalid symbol."
    )


def test_spot_is_not_served_by_aster(source: AsterSource) -> None:
    with pytest.raises(SourceError, match="aster: spot market not served"):
        source.fetch(SeriesKey(DataKind.OHLCV, Market.SPOT, "BTCUSDT", "1m"), T0, T0 + M)


def test_an_empty_span_gives_an_empty_canonical_frame(source: AsterSource, server: LocalAsterServer) -> None:
    frame = source.fetch(BARS, T0, T0)
    assert tuple(frame.columns) == REQUIRED_COLUMNS[DataKind.OHLCV] + OPTIONAL_COLUMNS[DataKind.OHLCV]
    assert len(frame) == 0 and frame["timestamp"].dtype == np.int64 and frame["trades"].dtype == np.int64
    assert server.requests == []


def test_exchange_info(source: AsterSource) -> None:
    info = source.exchange_info()
    assert [s["symbol"] for s in info["symbols"]] == ["BTCUSDT"]


def test_exhausted_retries_name_the_series(server: LocalAsterServer, clock: ManualClock) -> None:
    server.inject(502, times=2, path="/fapi/v1/klines")
    with (
        AsterSource(
            server.base_url, retry=RetryPolicy(max_retries=1), sleep=clock.sleep, clock=clock.time
        ) as src,
        pytest.raises(SourceUnavailableError, match=r"^aster: ohlcv klines for BTCUSDT 1m .* HTTP 502"),
    ):
        src.fetch(BARS, T0, T0 + N_BARS * M)
