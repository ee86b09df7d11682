"""The Binance backup feed (USDⓈ-M and spot) and the fallback wrapper, against local servers."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from asterrl.data.schema import DataKind, Market, SeriesKey
from asterrl.data.sources.aster import AsterSource
from asterrl.data.sources.base import MarketDataSource
from asterrl.data.sources.binance import BinanceSource
from asterrl.data.sources.fallback import FallbackSource
from asterrl.data.sources.http import RetryPolicy
from asterrl.errors import OfflineError, SourceError
from asterrl.exchange.local import LocalAsterServer, ManualClock, MarketDataBook

H = 3_600_000
T0 = 1_600_000_000_000 - 1_600_000_000_000 % H  # on the hourly grid
N_BARS = 2500
PERP = SeriesKey(DataKind.OHLCV, Market.PERP, "ETHUSDT", "1h")
SPOT = SeriesKey(DataKind.OHLCV, Market.SPOT, "ETHUSDT", "1h")


def hourly_bars(n: int) -> pd.DataFrame:
    """A deterministic walk: close_k = 1000 + 10 sin(k / 7); high/low 1 above/below the larger/smaller of
    open and close."""
    k = np.arange(n)
    close = 1000.0 + 10.0 * np.sin(k / 7.0)
    open_ = np.concatenate([[1000.0], close[:-1]])
    return pd.DataFrame(
        {
            "timestamp": T0 + H * k,
            "open": open_,
            "high": np.maximum(open_, close) + 1.0,
            "low": np.minimum(open_, close) - 1.0,
            "close": close,
            "volume": 5.0 + k % 3,
            "quote_volume": (5.0 + k % 3) * close,
            "trades": (10 + k % 5).astype(np.int64),
            "taker_buy_volume": 2.0 + 0.0 * k,
        }
    )


BARS = hourly_bars(N_BARS)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock((T0 + N_BARS * H) / 1000)


def serve(clock: ManualClock, with_symbol: bool = True) -> LocalAsterServer:
    book = MarketDataBook()
    if with_symbol:
        book.add_bars("ETHUSDT", "1h", BARS)
    return LocalAsterServer(book, now_ms=clock.ms).start()


@pytest.fixture
def binance_server(clock: ManualClock) -> Iterator[LocalAsterServer]:
    server = serve(clock)
    yield server
    server.stop()


@pytest.fixture
def binance(binance_server: LocalAsterServer, clock: ManualClock) -> Iterator[BinanceSource]:
    url = binance_server.base_url
    with BinanceSource(url, url, sleep=clock.sleep, clock=clock.time) as source:
        yield source


def test_binance_serves_perp_klines(binance: BinanceSource, binance_server: LocalAsterServer) -> None:
    assert isinstance(binance, MarketDataSource)
    frame = binance.fetch(PERP, T0, T0 + N_BARS * H)
    pd.testing.assert_frame_equal(frame, BARS, check_exact=True)
    assert frame.attrs["source"] == "binance"
    paths = [(r.path, r.params.get("limit")) for r in binance_server.requests]
    assert paths == [("/fapi/v1/time", None), ("/fapi/v1/klines", "1500"), ("/fapi/v1/klines", "1500")]


def test_binance_serves_spot_klines_in_pages_of_1000(
    binance: BinanceSource, binance_server: LocalAsterServer
) -> None:
    frame = binance.fetch(SPOT, T0, T0 + N_BARS * H)
    pd.testing.assert_frame_equal(frame, BARS, check_exact=True)
    paths = [(r.path, r.params.get("limit")) for r in binance_server.requests]
    assert paths == [("/api/v3/time", None)] + [("/api/v3/klines", "1000")] * 3


def test_fallback_uses_the_backup_when_the_primary_is_unreachable(
    binance: BinanceSource, clock: ManualClock
) -> None:
    with LocalAsterServer() as gone:
        url = gone.base_url  # nothing listens there once stopped
    aster = AsterSource(url, retry=RetryPolicy(max_retries=1), sleep=clock.sleep, clock=clock.time)
    frame = FallbackSource([aster, binance]).fetch(PERP, T0, T0 + N_BARS * H)
    pd.testing.assert_frame_equal(frame, BARS, check_exact=True)
    assert frame.attrs["source"] == "binance"
    aster.close()


def test_fallback_uses_the_backup_when_the_primary_keeps_failing(
    binance: BinanceSource, clock: ManualClock
) -> None:
    primary = serve(clock)
    primary.inject(503, times=3, path="/fapi/v1/klines")
    retry = RetryPolicy(max_retries=2)
    aster = AsterSource(primary.base_url, retry=retry, sleep=clock.sleep, clock=clock.time)
    try:
        frame = FallbackSource([aster, binance]).fetch(PERP, T0, T0 + N_BARS * H)
    finally:
        aster.close()
        primary.stop()
    assert frame.attrs["source"] == "binance"
    assert [r.status for r in primary.requests] == [200, 503, 503, 503]


def test_fallback_serves_from_the_primary_when_it_answers(
    binance: BinanceSource, binance_server: LocalAsterServer, clock: ManualClock
) -> None:
    primary = serve(clock)
    with AsterSource(primary.base_url, sleep=clock.sleep, clock=clock.time) as aster:
        frame = FallbackSource([aster, binance]).fetch(PERP, T0 + 10 * H, T0 + 20 * H)
    primary.stop()
    pd.testing.assert_frame_equal(frame, BARS.iloc[10:20].reset_index(drop=True), check_exact=True)
    assert frame.attrs["source"] == "aster"
    assert binance_server.requests == []


def test_fallback_does_not_hide_a_bad_symbol(
    binance: BinanceSource, binance_server: LocalAsterServer, clock: ManualClock
) -> None:
    primary = serve(clock, with_symbol=False)
    with (
        AsterSource(primary.base_url, sleep=clock.sleep, clock=clock.time) as aster,
        pytest.raises(SourceError, match=r"exchange error -1121: Invalid symbol\.$"),
    ):
        FallbackSource([aster, binance]).fetch(PERP, T0, T0 + H)
    primary.stop()
    assert binance_server.requests == []


def test_fallback_with_every_source_down_is_offline(clock: ManualClock) -> None:
    with LocalAsterServer() as gone:
        url = gone.base_url
    retry = RetryPolicy(max_retries=0)
    aster = AsterSource(url, retry=retry, sleep=clock.sleep, clock=clock.time)
    backup = BinanceSource(url, url, retry=retry, sleep=clock.sleep, clock=clock.time)
    with pytest.raises(OfflineError) as err:
        FallbackSource([aster, backup]).fetch(PERP, T0, T0 + H)
    message = str(err.value)
    assert message.startswith("no source could serve perp ETHUSDT 1h ohlcv: aster: server time")
    assert "; binance: server time" in message and "\n" not in message
    aster.close()
    backup.close()
