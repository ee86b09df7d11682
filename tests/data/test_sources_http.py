"""REST plumbing against the local Aster server: weight budgeting, backoff, retries and error lines."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from asterrl.data.sources.http import (
    RequestWeightTracker,
    RestClient,
    RetryPolicy,
    SourceUnavailableError,
    kline_weight,
)
from asterrl.errors import SourceError
from asterrl.exchange.local import LocalAsterServer, ManualClock

MINUTE_S = 1_700_006_400.0  # on a minute boundary


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MINUTE_S + 10.0)


@pytest.fixture
def server(clock: ManualClock) -> Iterator[LocalAsterServer]:
    with LocalAsterServer(now_ms=clock.ms) as srv:
        yield srv


def make_client(server: LocalAsterServer, clock: ManualClock, **retry: float) -> RestClient:
    weights = RequestWeightTracker(clock=clock.time, sleep=clock.sleep)
    policy = RetryPolicy(**retry)  # type: ignore[arg-type]
    return RestClient(
        "aster", server.base_url, retry=policy, weights=weights, sleep=clock.sleep, timeout_s=5.0
    )


def test_tracker_sleeps_to_the_next_minute_before_crossing_the_budget(clock: ManualClock) -> None:
    tracker = RequestWeightTracker(
        limit_per_minute=100, budget_fraction=0.8, clock=clock.time, sleep=clock.sleep
    )
    assert tracker.budget == 80
    tracker.observe({"X-MBX-USED-WEIGHT-1M": "75", "Content-Type": "application/json"})
    assert tracker.used == 75
    tracker.before_request(5)  # 80: still within the budget
    assert clock.sleeps == []
    tracker.before_request(1)  # 81 > 80: wait for the minute to roll (50 s left, plus 50 ms margin)
    assert clock.sleeps == [pytest.approx(50.05)]
    assert tracker.used == 1


def test_tracker_reads_every_weight_header_and_forgets_old_minutes(clock: ManualClock) -> None:
    tracker = RequestWeightTracker(clock=clock.time, sleep=clock.sleep)
    tracker.observe(
        {"x-mbx-used-weight-10s": "7", "X-MBX-USED-WEIGHT-1M": "300", "X-MBX-USED-WEIGHT-1M2": "x"}
    )
    assert tracker.reported == {"10s": 7, "1m": 300}
    assert tracker.used == 300
    clock.advance(50.0)  # the next minute
    assert tracker.used == 0


@pytest.mark.parametrize(
    ("limit", "weight"), [(1, 1), (99, 1), (100, 2), (499, 2), (500, 5), (1000, 5), (1001, 10), (1500, 10)]
)
def test_kline_weights_follow_the_reference(limit: int, weight: int) -> None:
    assert kline_weight(limit) == weight


def test_backoff_is_capped_exponential_with_seeded_jitter(
    server: LocalAsterServer, clock: ManualClock
) -> None:
    a = make_client(server, clock, backoff_base_s=0.5, backoff_cap_s=4.0, seed=7)
    b = make_client(server, clock, backoff_base_s=0.5, backoff_cap_s=4.0, seed=7)
    delays = [a.backoff_delay(k) for k in range(6)]
    assert delays == [b.backoff_delay(k) for k in range(6)]
    for delay, raw in zip(delays, [0.5, 1.0, 2.0, 4.0, 4.0, 4.0], strict=True):
        assert raw / 2 <= delay < raw
    a.close()
    b.close()


def test_rate_limits_and_server_errors_are_retried(server: LocalAsterServer, clock: ManualClock) -> None:
    server.inject(429, retry_after=1)
    server.inject(418, retry_after=3)
    server.inject(500)
    server.inject(0)  # connection dropped without an answer
    with make_client(server, clock, backoff_base_s=0.5) as client:
        body = client.get("/fapi/v1/time", None, weight=1, what="server time")
        assert client.requests_sent == 5
    assert body == {"serverTime": clock.ms()}
    assert clock.sleeps[:2] == [1.0, 3.0]  # Retry-After honoured
    assert 1.0 <= clock.sleeps[2] < 2.0  # third retry: 0.5 * 2**2 s with jitter in [0.5, 1)
    assert 2.0 <= clock.sleeps[3] < 4.0
    assert [r.status for r in server.requests] == [429, 418, 500, 0, 200]


def test_giving_up_after_the_last_retry_is_one_line(server: LocalAsterServer, clock: ManualClock) -> None:
    server.inject(500, times=3)
    with make_client(server, clock, max_retries=2) as client, pytest.raises(SourceUnavailableError) as err:
        client.get("/fapi/v1/time", None, weight=1, what="server time")
    assert str(err.value) == (
        "aster: server time (/fapi/v1/time) failed after 3 attempts: HTTP 500, exchange error -1001: "
        "Internal error; unable to process your request. Please try again."
    )
    assert len(clock.sleeps) == 2  # no pointless wait after the last attempt


def test_a_long_ban_fails_at_once(server: LocalAsterServer, clock: ManualClock) -> None:
    server.inject(418, retry_after=86_400)
    with (
        make_client(server, clock) as client,
        pytest.raises(SourceUnavailableError, match="Retry-After 86400 s"),
    ):
        client.get("/fapi/v1/time", None, weight=1, what="server time")
    assert clock.sleeps == []


def test_a_rejected_request_is_not_retried(server: LocalAsterServer, clock: ManualClock) -> None:
    params = {"symbol": "NOPEUSDT", "interval": "1h"}
    with make_client(server, clock) as client:
        with pytest.raises(SourceError) as err:
            client.get("/fapi/v1/klines", params, weight=5, what="klines for NOPEUSDT")
        assert client.requests_sent == 1
    assert not isinstance(err.value, SourceUnavailableError)
    assert str(err.value) == (
        "aster: klines for NOPEUSDT (/fapi/v1/klines) rejected: HTTP 400, "
        "exchange error -1121: Invalid symbol."
    )


def test_an_unreachable_host_is_unavailable(clock: ManualClock) -> None:
    with LocalAsterServer() as srv:
        url = srv.base_url  # nothing listens there once stopped
    weights = RequestWeightTracker(clock=clock.time, sleep=clock.sleep)
    client = RestClient("aster", url, retry=RetryPolicy(max_retries=1), weights=weights, sleep=clock.sleep)
    with client, pytest.raises(SourceUnavailableError, match=r"ConnectError reaching http://127\.0\.0\.1"):
        client.get("/fapi/v1/time", None, weight=1, what="server time")


def test_a_read_timeout_is_retried(server: LocalAsterServer, clock: ManualClock) -> None:
    server.inject(200, delay_s=0.5)  # answers normally, but after the client's 0.2 s timeout
    weights = RequestWeightTracker(clock=clock.time, sleep=clock.sleep)
    with RestClient("aster", server.base_url, timeout_s=0.2, weights=weights, sleep=clock.sleep) as client:
        assert client.get("/fapi/v1/time", None, weight=1, what="server time") == {"serverTime": clock.ms()}
        assert client.requests_sent == 2
    assert len(clock.sleeps) == 1
