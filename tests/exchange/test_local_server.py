"""The local Aster server answers like the venue: paging, error bodies, weight headers, faults, clean stop."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pandas as pd
import pytest

from asterrl.exchange.local import LocalAsterServer, ManualClock, MarketDataBook, SymbolSpec

H = 3_600_000
T0 = 1_700_006_400_000  # 2023-11-15 00:00 UTC, on the hourly grid


def hourly_bars(n: int) -> pd.DataFrame:
    """Bar k: open 100+k, high 101.5+k, low 99+k, close 100.5+k, volume 10+k, 2*(10+k) trades."""
    k = pd.RangeIndex(n)
    return pd.DataFrame(
        {
            "timestamp": T0 + H * k,
            "open": 100.0 + k,
            "high": 101.5 + k,
            "low": 99.0 + k,
            "close": 100.5 + k,
            "volume": 10.0 + k,
            "quote_volume": (10.0 + k) * (100.0 + k),
            "trades": 2 * (10 + k),
            "taker_buy_volume": 4.0 + 0 * k,
        }
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock((T0 + 9 * H + 30 * 60_000) / 1000)  # half-way through bar 9


@pytest.fixture
def server(clock: ManualClock) -> Iterator[LocalAsterServer]:
    book = MarketDataBook()
    book.add_bars("BTCUSDT", "1h", hourly_bars(10))
    book.add_funding(
        "BTCUSDT", pd.DataFrame({"timestamp": [T0 + 3 * H * i for i in range(5)], "funding_rate": 1e-4})
    )
    with LocalAsterServer(book, now_ms=clock.ms) as srv:
        yield srv


@pytest.fixture
def http(server: LocalAsterServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=5.0) as client:
        yield client


def open_times(body: list[list[object]]) -> list[int]:
    return [int(str(row[0])) for row in body]


def test_kline_rows_are_aster_shaped(http: httpx.Client) -> None:
    body = http.get(
        "/fapi/v1/klines", params={"symbol": "BTCUSDT", "interval": "1h", "startTime": T0 + 2 * H, "limit": 1}
    ).json()
    # bar 2: taker-buy quote = taker base 4 * VWAP (quote 12*102 / volume 12) = 408
    assert body == [
        [T0 + 2 * H, "102", "103.5", "101", "102.5", "12", T0 + 3 * H - 1, "1224", 24, "4", "408", "0"]
    ]


@pytest.mark.parametrize(
    ("params", "expected_bars"),
    [
        ({"startTime": T0 + 2 * H, "limit": 3}, [2, 3, 4]),  # first `limit` from startTime
        ({"startTime": T0 + 2 * H, "endTime": T0 + 3 * H}, [2, 3]),  # endTime is inclusive of open time
        ({"startTime": T0 + 2 * H + 1, "endTime": T0 + 4 * H - 1}, [3]),
        ({"endTime": T0 + 5 * H, "limit": 2}, [4, 5]),  # only endTime: the last `limit` up to it
        ({"limit": 3}, [7, 8, 9]),  # neither: the most recent, the open bar 9 included
        ({}, list(range(10))),  # default limit 500
        ({"startTime": T0 + 20 * H}, []),
    ],
)
def test_kline_paging_follows_the_venue(
    http: httpx.Client, params: dict[str, int], expected_bars: list[int]
) -> None:
    body = http.get("/fapi/v1/klines", params={"symbol": "BTCUSDT", "interval": "1h", **params}).json()
    assert open_times(body) == [T0 + k * H for k in expected_bars]


def test_rows_after_the_server_clock_do_not_exist() -> None:
    early = ManualClock((T0 + 5 * H + 1) / 1000)
    book = MarketDataBook()
    book.add_bars("BTCUSDT", "1h", hourly_bars(10))
    with LocalAsterServer(book, now_ms=early.ms) as srv, httpx.Client(base_url=srv.base_url) as client:
        body = client.get("/fapi/v1/klines", params={"symbol": "BTCUSDT", "interval": "1h"}).json()
    assert open_times(body) == [T0 + k * H for k in range(6)]


def test_funding_history_paging(http: httpx.Client) -> None:
    body = http.get(
        "/fapi/v1/fundingRate", params={"symbol": "BTCUSDT", "startTime": T0 + 1, "limit": 2}
    ).json()
    assert body == [
        {"symbol": "BTCUSDT", "fundingTime": T0 + 3 * H, "fundingRate": "0.0001"},
        {"symbol": "BTCUSDT", "fundingTime": T0 + 6 * H, "fundingRate": "0.0001"},
    ]
    # the settlement at 12h is after the server clock (9h30) and does not exist yet
    latest = http.get("/fapi/v1/fundingRate", params={"symbol": "BTCUSDT"}).json()
    assert [row["fundingTime"] for row in latest] == [T0 + 3 * H * i for i in range(4)]


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        ("/fapi/v1/klines", {"interval": "1h"}, 400, -1102),
        ("/fapi/v1/klines", {"symbol": "NOPEUSDT", "interval": "1h"}, 400, -1121),
        ("/fapi/v1/klines", {"symbol": "BTCUSDT", "interval": "7m"}, 400, -1120),
        ("/fapi/v1/klines", {"symbol": "BTCUSDT", "interval": "1h", "limit": 1501}, 400, -1130),
        ("/fapi/v1/klines", {"symbol": "BTCUSDT", "interval": "1h", "startTime": "abc"}, 400, -1100),
        (
            "/fapi/v1/klines",
            {"symbol": "BTCUSDT", "interval": "1h", "startTime": 2, "endTime": 1},
            400,
            -1023,
        ),
        ("/fapi/v1/fundingRate", {"symbol": "BTCUSDT", "limit": 1001}, 400, -1130),
        ("/fapi/v1/nothingHere", {}, 404, -1000),
    ],
)
def test_bad_requests_get_exchange_error_bodies(
    http: httpx.Client, path: str, params: dict[str, object], status: int, code: int
) -> None:
    response = http.get(path, params=params)  # type: ignore[arg-type]
    assert response.status_code == status
    assert response.json()["code"] == code
    assert isinstance(response.json()["msg"], str)


def test_request_weight_accumulates_per_minute(
    server: LocalAsterServer, http: httpx.Client, clock: ManualClock
) -> None:
    base = {"symbol": "BTCUSDT", "interval": "1h"}
    used = []
    for limit in (50, 100, 500, 1000, 1001):  # weights 1, 2, 5, 5, 10 (reference §7)
        response = http.get("/fapi/v1/klines", params={**base, "limit": limit})
        used.append(int(response.headers["X-MBX-USED-WEIGHT-1M"]))
    used.append(int(http.get("/fapi/v1/klines", params=base).headers["X-MBX-USED-WEIGHT-1M"]))  # default 500
    assert used == [1, 3, 8, 13, 23, 28]
    clock.advance(60)
    assert http.get("/fapi/v1/time").headers["X-MBX-USED-WEIGHT-1M"] == "1"
    assert server.used_weight() == 1


def test_weight_over_the_limit_is_refused_until_the_minute_rolls(clock: ManualClock) -> None:
    start = ManualClock((T0 + 15_000) / 1000)  # 15 s into a minute
    with (
        LocalAsterServer(now_ms=start.ms, weight_limit=3) as srv,
        httpx.Client(base_url=srv.base_url) as client,
    ):
        statuses = [client.get("/fapi/v1/time").status_code for _ in range(4)]
        refused = client.get("/fapi/v1/time")
        start.advance(45)
        after = client.get("/fapi/v1/time")
    assert statuses == [200, 200, 200, 429]
    assert refused.json()["code"] == -1003
    assert refused.headers["Retry-After"] == "45"
    assert after.status_code == 200
    assert after.json() == {"serverTime": T0 + 60_000}


def test_injected_faults_are_replayed_in_order(server: LocalAsterServer, http: httpx.Client) -> None:
    server.inject(500)
    server.inject(429, retry_after=2)
    server.inject(418, retry_after=120)
    first, second, third, fourth = (http.get("/fapi/v1/time") for _ in range(4))
    assert (first.status_code, first.json()["code"]) == (500, -1001)
    assert (second.status_code, second.json()["code"], second.headers["Retry-After"]) == (429, -1003, "2")
    assert (third.status_code, third.headers["Retry-After"]) == (418, "120")
    assert fourth.status_code == 200
    assert server.pending_faults == 0
    assert [r.status for r in server.requests] == [500, 429, 418, 200]


def test_a_fault_can_target_one_path(server: LocalAsterServer, http: httpx.Client) -> None:
    server.inject(503, path="/fapi/v1/klines", body={"code": -1001, "msg": "busy"})
    assert http.get("/fapi/v1/time").status_code == 200
    response = http.get("/fapi/v1/klines", params={"symbol": "BTCUSDT", "interval": "1h"})
    assert (response.status_code, response.json()) == (503, {"code": -1001, "msg": "busy"})


def test_a_dropped_connection_fault_closes_without_an_answer(
    server: LocalAsterServer, http: httpx.Client
) -> None:
    server.inject(0)
    with pytest.raises(httpx.RemoteProtocolError):
        http.get("/fapi/v1/time")
    assert http.get("/fapi/v1/time").status_code == 200


def test_exchange_info_lists_symbols_with_filters(http: httpx.Client, server: LocalAsterServer) -> None:
    server.book.add_symbol(SymbolSpec(symbol="ETHUSDT", base_asset="ETH", tick_size="0.01"))
    info = http.get("/fapi/v1/exchangeInfo").json()
    assert info["rateLimits"][0] == {
        "rateLimitType": "REQUEST_WEIGHT",
        "interval": "MINUTE",
        "intervalNum": 1,
        "limit": 2400,
    }
    by_symbol = {s["symbol"]: s for s in info["symbols"]}
    assert sorted(by_symbol) == ["BTCUSDT", "ETHUSDT"]
    btc = {f["filterType"]: f for f in by_symbol["BTCUSDT"]["filters"]}
    # BTCUSDT was listed from its last close 109.5: tick 10^(2-5), step 10^floor(log10(10/109.5)) = 0.01
    assert btc["PRICE_FILTER"]["tickSize"] == "0.001"
    assert btc["LOT_SIZE"]["stepSize"] == "0.01"
    assert btc["MIN_NOTIONAL"]["notional"] == "5"
    assert by_symbol["ETHUSDT"]["pricePrecision"] == 2
    assert {"PRICE_FILTER", "LOT_SIZE", "MARKET_LOT_SIZE", "PERCENT_PRICE", "MAX_NUM_ORDERS"} <= set(
        {f["filterType"] for f in by_symbol["ETHUSDT"]["filters"]}
    )


def test_symbol_spec_for_a_btc_like_price() -> None:
    spec = SymbolSpec.for_price("BTCUSDT", 30_000.0)
    assert (spec.base_asset, spec.tick_size, spec.step_size) == ("BTC", "0.1", "0.0001")


def test_stop_closes_idle_keep_alive_connections_and_joins_threads() -> None:
    before = {t.ident for t in threading.enumerate()}
    server = LocalAsterServer().start()
    client = httpx.Client(base_url=server.base_url)
    assert client.get("/fapi/v1/ping").status_code == 200  # leaves a keep-alive connection open
    server.stop()
    assert {t.ident for t in threading.enumerate()} <= before
    with pytest.raises(httpx.TransportError):
        client.get("/fapi/v1/ping")
    client.close()
    server.stop()  # stopping twice is harmless
