"""Under every injected fault the client ends with the exchange's view and its own in agreement, no order
twice, and a clear typed error where the call cannot succeed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest

from asterrl.exchange.client import AsterClient
from asterrl.exchange.errors import RateLimited
from asterrl.exchange.local import LocalAsterServer, ScaledClock
from asterrl.exchange.models import OrderRequest
from asterrl.exchange.user_stream import UserDataStream
from tests.exchange.venue import T0, H, eventually, in_thread, local_exchange, ready_client, run

D = Decimal
WINDOW_MS = 1500  # a short nonce window, so that a lost order is provably dead within a test


def buy(cid: str, qty: str = "0.01") -> OrderRequest:
    return OrderRequest("BTCUSDT", "BUY", "MARKET", D(qty), client_order_id=cid)


def rest_limit(cid: str) -> OrderRequest:
    return OrderRequest(
        "BTCUSDT", "BUY", "LIMIT", D("0.01"), D("29500.0"), time_in_force="GTC", client_order_id=cid
    )


async def views(client: AsterClient, stream: UserDataStream) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """(the stream's view, the exchange's over REST): wallet, open positions, open order ids."""
    await stream.settled()
    (balance,) = await client.balance()
    positions = {p.symbol: (p.amount, p.entry_price) for p in await client.positions() if p.amount != 0}
    open_ids = {o.order_id for o in await client.open_orders()}
    local = {s: v for s, v in stream.view.positions.items() if v[0] != 0}
    return (stream.view.wallet, local, set(stream.view.open_orders())), (
        balance.wallet_balance,
        positions,
        open_ids,
    )


async def assert_views_agree(client: AsterClient, stream: UserDataStream, timeout_s: float = 10.0) -> None:
    """The stream's view comes to equal what REST reports (events in flight are waited for)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        mine, theirs = await views(client, stream)
        if mine == theirs:
            return
        if loop.time() > deadline:
            assert mine == theirs
        await asyncio.sleep(0.1)


async def count_orders(client: AsterClient, cid: str) -> int:
    return sum(o.client_order_id == cid for o in await client.all_orders("BTCUSDT"))


def with_exchange(
    body: Callable[[LocalAsterServer, AsterClient, UserDataStream], Awaitable[Any]], **client_config: Any
) -> Any:
    clock = ScaledClock(T0 + 5 * H + 1000, speed=1.0)  # real time inside bar 5: the market stands still
    with local_exchange(clock=clock, nonce_window_ms=WINDOW_MS) as (server, _):

        async def scenario() -> Any:
            async with await ready_client(server, **client_config) as client:
                stream = UserDataStream(client, server.ws_url, resync_delay_s=0.1, stall_timeout_s=0.6)
                stream.connection._backoff = (0.05, 0.5)
                await stream.start()
                try:
                    result = await body(server, client, stream)
                    await assert_views_agree(client, stream)
                    return result
                finally:
                    await stream.stop()

        return run(scenario, timeout_s=90)


@pytest.mark.parametrize(
    ("fault", "process"),
    [(0, True), (0, False), (503, True), (500, False), (502, True)],
    ids=["dropped-after", "dropped-before", "503-accepted", "500-refused", "502-accepted"],
)
def test_an_order_with_no_definite_answer_is_placed_exactly_once(fault: int, process: bool) -> None:
    async def body(server: LocalAsterServer, client: AsterClient, stream: UserDataStream) -> None:
        server.inject(fault, path="/fapi/v3/order", method="POST", process=process)
        order = await client.new_order(buy("once-1"))
        assert order.status == "FILLED" and order.client_order_id == "once-1"
        assert await count_orders(client, "once-1") == 1
        assert client.unknown_outcomes == 1
        assert client.resent_after_unknown == (0 if process else 1)

    with_exchange(body)


def test_a_delayed_answer_past_the_timeout_is_resolved_not_resent() -> None:
    async def body(server: LocalAsterServer, client: AsterClient, stream: UserDataStream) -> None:
        server.inject(200, path="/fapi/v3/order", method="POST", delay_s=0.8)  # timeout is 0.4 s
        order = await client.new_order(rest_limit("slow-1"))
        assert order.client_order_id == "slow-1"
        await asyncio.sleep(1.0)
        assert await count_orders(client, "slow-1") == 1
        assert client.unknown_outcomes == 1

    with_exchange(body, timeout_s=0.4)


def test_server_errors_and_rate_limits_on_reads_are_retried() -> None:
    async def body(server: LocalAsterServer, client: AsterClient, stream: UserDataStream) -> None:
        # (paths the user stream's own resyncs never call, so that it cannot take these faults)
        server.inject(500, path="/fapi/v3/income")
        server.inject(0, path="/fapi/v3/income")
        server.inject(429, retry_after=0.3, times=3, path="/fapi/v3/income")
        started = time.monotonic()
        await client.income()
        assert time.monotonic() - started >= 0.3  # Retry-After was honoured
        assert client.rest.limits.waited_s >= 0.3
        server.inject(418, retry_after=120, path="/fapi/v3/leverageBracket")  # a ban too long to wait out
        with pytest.raises(RateLimited) as banned:
            await client.leverage_brackets()
        assert (banned.value.status, banned.value.retry_after_s) == (418, 120.0)
        assert "\n" not in str(banned.value)
        client.rest.limits._blocked_until = 0.0  # the test ends the ban rather than wait two minutes

    with_exchange(body, max_retries=6)


def test_clock_skew_is_resynced() -> None:
    async def body(server: LocalAsterServer, client: AsterClient, stream: UserDataStream) -> None:
        server.skew_clock(30_000)  # the server's clock jumps 30 s ahead: every nonce looks stale
        order = await client.new_order(rest_limit("skew-ahead"))
        assert order.status == "NEW" and client.rest.resyncs >= 2
        async with await ready_client(server, v1=True) as v1:
            server.skew_clock(-30_000)  # and 30 s behind: V1 timestamps follow the resynced clock
            assert (await v1.new_order(rest_limit("skew-behind"))).status == "NEW"
            assert v1.rest.resyncs >= 2
            # V3 nonces run 60 s ahead of the server now: a resync lets them follow its clock back down
            assert (await client.new_order(rest_limit("skew-v3-behind"))).status == "NEW"
            server.skew_clock(0)
            assert await count_orders(v1, "skew-behind") == 1
        for cid in ("skew-ahead", "skew-v3-behind"):
            assert await count_orders(client, cid) == 1

    with_exchange(body)


def test_stream_drops_stalls_duplicates_reorders_and_key_expiry() -> None:
    async def body(server: LocalAsterServer, client: AsterClient, stream: UserDataStream) -> None:
        await in_thread(lambda: server.disconnect_streams("user"))
        await client.new_order(buy("drop-1"))
        await eventually(lambda: stream.connection.connects >= 2, what="reconnect after the drop")
        server.stall_streams(1.0, "user")
        await client.new_order(buy("stall-1"))  # its events are lost in the stall
        await client.new_order(rest_limit("stall-2"))
        await eventually(lambda: "stalled" in stream.connection.drops, what="stall detected")
        stall_over = server.streams.faults.stall_until
        await eventually(lambda: time.monotonic() > stall_over, what="the stall's end")
        await assert_views_agree(client, stream)
        server.duplicate_user_events(6)
        server.reorder_user_events(6, batch=3)
        for n in range(3):
            await client.new_order(buy(f"dup-{n}"))
        await eventually(lambda: stream.duplicates >= 1, what="duplicates seen")
        await assert_views_agree(client, stream)
        keys = stream.keys_created
        await in_thread(server.expire_listen_keys)
        await eventually(lambda: stream.keys_created == keys + 1, what="a new listen key")
        await client.new_order(buy("after-expiry"))
        for cid in ("drop-1", "stall-1", "stall-2", "dup-0", "dup-1", "dup-2", "after-expiry"):
            assert await count_orders(client, cid) == 1

    with_exchange(body)


def test_a_restart_keeps_the_book_and_everyone_reconnects() -> None:
    async def body(server: LocalAsterServer, client: AsterClient, stream: UserDataStream) -> None:
        resting = await client.new_order(rest_limit("kept-1"))
        await client.new_order(buy("before-restart"))
        restart = asyncio.ensure_future(in_thread(lambda: server.restart(down_s=0.5)))
        await asyncio.sleep(0.1)
        order = await client.new_order(buy("during-restart"))  # connection refused: retried, sent once
        await restart
        assert order.status == "FILLED"
        assert [o.order_id for o in await client.open_orders("BTCUSDT")] == [resting.order_id]
        await eventually(lambda: stream.connection.connects >= 2, what="reconnect after the restart")
        for cid in ("kept-1", "before-restart", "during-restart"):
            assert await count_orders(client, cid) == 1

    with_exchange(body, backoff_base_s=0.3, max_retries=5)
