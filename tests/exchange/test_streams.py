"""Market and user streams between the client and the local exchange: payloads, combined streams, control
frames, the depth snapshot-and-sequence rule with a lost diff, pings, the 24 h reconnect and listen-key
keep-alive."""

from __future__ import annotations

import asyncio
import itertools
import json
from decimal import Decimal
from typing import Any

import websockets

from asterrl.exchange.local import ScaledClock
from asterrl.exchange.streams import OrderBook, StreamConnection, combined_url
from asterrl.exchange.user_stream import UserDataStream
from tests.exchange.venue import T0, H, in_thread, local_exchange, ready_client, run

STREAMS = ["btcusdt@kline_1h", "btcusdt@markPrice", "btcusdt@bookTicker", "btcusdt@depth"]


async def wait_for(predicate: Any, timeout_s: float = 10.0) -> None:
    for _ in range(int(timeout_s / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached in time")


def test_combined_market_streams_and_the_depth_sync_rule() -> None:
    with local_exchange(mark_push_s=3600.0) as (server, clock):
        market = server.exchange.markets["BTCUSDT"]

        async def scenario() -> None:
            async with await ready_client(server) as client:
                got: dict[str, list[dict[str, Any]]] = {s: [] for s in STREAMS}
                book = OrderBook(lambda: client.depth("BTCUSDT", 20))

                async def on_message(msg: dict[str, Any]) -> None:
                    got[msg["stream"]].append(msg["data"])
                    if msg["stream"].endswith("@depth"):
                        await book.on_event(msg["data"])

                conn = StreamConnection(combined_url(server.ws_url, STREAMS), on_message)
                await conn.start()
                for _ in range(4):  # bars 5..8 close
                    clock.advance(3600)
                    await in_thread(server.sync)
                    await asyncio.sleep(0.05)
                await wait_for(lambda: len(got["btcusdt@depth"]) == 4 and book.synced)
                closed = [k["k"] for k in got["btcusdt@kline_1h"] if k["k"]["x"]]
                assert [k["t"] for k in closed] == [T0 + b * H for b in (5, 6, 7, 8)]
                # bar 5 of flat_bars: open 30050, high 30150, low 29950, close 30060, volume 1000
                assert (closed[0]["o"], closed[0]["h"], closed[0]["l"], closed[0]["c"], closed[0]["v"]) == (
                    "30050", "30150", "29950", "30060", "1000")  # fmt: skip
                assert [m["p"] for m in got["btcusdt@markPrice"]] == ["30060", "30070", "30080", "30090"]
                bid, ask = market.best_quotes(9)
                assert (got["btcusdt@bookTicker"][-1]["b"], got["btcusdt@bookTicker"][-1]["a"]) == (
                    str(Decimal(repr(bid))), str(Decimal(repr(ask))))  # fmt: skip
                ids = [(d["U"], d["u"], d["pu"]) for d in got["btcusdt@depth"]]
                assert all(prev[1] == nxt[2] for prev, nxt in itertools.pairwise(ids))
                assert book.snapshots == 1
                # a diff is lost: the next one's pu does not match, and the book resyncs from a snapshot
                server.gap_depth_stream(1)
                clock.advance(3600)
                await in_thread(server.sync)
                await wait_for(lambda: book.snapshots == 2 and book.synced)
                snap = await client.depth("BTCUSDT", 20)
                assert book.last_update_id == snap.last_update_id
                assert book.best() == (max(snap.bids), min(snap.asks))
                await conn.stop()

        run(scenario)


def test_subscribe_and_list_on_a_raw_stream() -> None:
    with local_exchange(mark_push_s=3600.0) as (server, clock):

        async def scenario() -> list[Any]:
            async with websockets.connect(f"{server.ws_url}/ws/btcusdt@markPrice") as ws:
                await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@bookTicker"], "id": 7}))
                assert json.loads(await ws.recv()) == {"result": None, "id": 7}
                await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 8}))
                listed = json.loads(await ws.recv())
                clock.advance(3600)
                await in_thread(server.sync)
                kinds: set[str] = set()
                while len(kinds) < 2:  # the bar's mark price and book ticker, in either order
                    kinds.add(json.loads(await asyncio.wait_for(ws.recv(), 10.0))["e"])
                return [listed, kinds]

        listed, kinds = run(scenario)
    assert listed == {"result": ["btcusdt@bookTicker", "btcusdt@markPrice"], "id": 8}
    assert kinds == {"markPriceUpdate", "bookTicker"}


def test_pings_keep_a_quiet_stream_open_and_old_connections_are_renewed() -> None:
    with local_exchange(heartbeat_s=0.5, max_connection_s=2.0) as (server, _):

        async def scenario() -> tuple[list[str], int]:
            quiet = StreamConnection(f"{server.ws_url}/ws/btcusdt@depth", lambda m: None, ping_interval_s=0.5)
            await quiet.start()
            renewed = StreamConnection(f"{server.ws_url}/ws/btcusdt@depth", lambda m: None, max_age_s=0.4)
            await renewed.start()
            await asyncio.sleep(2.5)
            drops = list(quiet.drops)
            await quiet.stop()
            await renewed.stop()
            return drops, renewed.connects

        drops, renewed = run(scenario)
    assert drops == []  # pings answered both ways (5 rounds): nothing dropped a quiet connection in 2.5 s
    assert renewed >= 3  # renewed every 0.4 s, ahead of the server's 2 s cut-off


def test_the_listen_key_is_kept_alive_and_replaced_when_it_expires() -> None:
    clock = ScaledClock(T0 + 5 * H + 1000, speed=1.0)
    with local_exchange(clock=clock, listen_key_ttl_ms=1500) as (server, _):

        async def scenario() -> tuple[int, int]:
            async with await ready_client(server) as client:
                kept = UserDataStream(client, server.ws_url, keep_alive_s=0.3)
                await kept.start()
                await asyncio.sleep(4.0)  # > 2 TTLs: alive only through the keep-alives
                created = kept.keys_created
                await kept.stop()
                await client.close_listen_key()
                lapsed = UserDataStream(client, server.ws_url, keep_alive_s=60.0)
                lapsed.connection._backoff = (0.05, 0.2)
                await lapsed.start()
                await wait_for(lambda: lapsed.keys_created >= 2)
                renewed = lapsed.keys_created
                await lapsed.stop()
                return created, renewed

        created, renewed = run(scenario)
    assert created == 1
    assert renewed >= 2  # listenKeyExpired arrived and a new key was made
