"""WebSocket streams of the local exchange, on the same port as REST (reference §12, §13).

``/ws/<listenKey>`` is a user-data stream; ``/ws/<stream>[/<stream>…]`` raw market streams and
``/stream?streams=a/b`` combined ones (``{"stream", "data"}``); SUBSCRIBE / UNSUBSCRIBE /
LIST_SUBSCRIPTIONS control frames are answered. Market streams: ``<s>@kline_<i>``, ``<s>@markPrice[@1s]``,
``<s>@bookTicker``, ``<s>@depth[@100ms|@500ms]`` (diffs with ``U``/``u``/``pu``). Each connection has a
queue and a sender task; the engine publishes from any thread. Injected faults act here: dropped
connections, stalls (nothing sent for a while), user events sent twice or out of order, expired keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from asterrl.exchange.local.api import fmt
from asterrl.exchange.local.faults import StreamFaults
from asterrl.exchange.local.listen_keys import ListenKeys
from asterrl.sim.layout import Market

if TYPE_CHECKING:
    from asterrl.exchange.local.market import SymbolMarket
    from asterrl.exchange.local.server import LocalAsterServer


@dataclass(eq=False)
class Connection:
    """One WebSocket client: its user (user-data) or its subscribed streams (market)."""

    ws: web.WebSocketResponse
    queue: asyncio.Queue[str]
    user: str | None = None
    combined: bool = False
    streams: set[str] = field(default_factory=set)
    opened: float = field(default_factory=time.monotonic)


class StreamHub:
    """Every open stream connection and what is published to them."""

    def __init__(
        self, server: LocalAsterServer, listen_key_ttl_ms: int, heartbeat_s: float, max_age_s: float
    ):
        self.server = server
        self.keys = ListenKeys(listen_key_ttl_ms)
        self.faults = StreamFaults()
        self.heartbeat_s = heartbeat_s
        self.max_age_s = max_age_s
        self.connections: set[Connection] = set()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._depth: dict[str, tuple[dict[float, float], dict[float, float]]] = {}
        #: Skip this many depth update ids on the next diff of each symbol (a sequence gap).
        self.depth_gap = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    # -- connections ------------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Serve one WebSocket upgrade on ``/ws/...`` or ``/stream``."""
        now = self.server.server_ms()
        conn_user, streams, combined = None, set(), request.path == "/stream"
        if combined:
            streams = {s for s in request.query.get("streams", "").split("/") if s}
        else:
            name = request.path.removeprefix("/ws/")
            conn_user = self.keys.user_of(name, now)
            if conn_user is None:
                streams = {s for s in name.split("/") if s and "@" in s}
                if not streams:
                    raise web.HTTPBadRequest(text='{"code":-1125,"msg":"This listenKey does not exist."}')
        ws = web.WebSocketResponse(heartbeat=self.heartbeat_s, autoping=True)
        await ws.prepare(request)
        conn = Connection(ws, asyncio.Queue(), conn_user, combined, streams)
        with self._lock:
            self.connections.add(conn)
        sender = asyncio.ensure_future(self._send_loop(conn))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._control(conn, msg.data)
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
            with self._lock:
                self.connections.discard(conn)
        return ws

    async def _control(self, conn: Connection, text: str) -> None:
        try:
            frame = json.loads(text)
            method, params, ident = frame["method"], frame.get("params", []), frame.get("id")
        except (ValueError, KeyError, TypeError):
            await conn.ws.send_str('{"code":2,"msg":"Invalid request"}')
            return
        if method == "SUBSCRIBE":
            conn.streams.update(str(p) for p in params)
            result: Any = None
        elif method == "UNSUBSCRIBE":
            conn.streams.difference_update(str(p) for p in params)
            result = None
        elif method == "LIST_SUBSCRIPTIONS":
            result = sorted(conn.streams)
        else:
            result = None
        await conn.ws.send_str(json.dumps({"result": result, "id": ident}))

    async def _send_loop(self, conn: Connection) -> None:
        while True:
            text = await conn.queue.get()
            if time.monotonic() < self.faults.stall_until and self.faults.stall_kind in (
                "all", "user" if conn.user else "market"
            ):  # fmt: skip
                continue
            if time.monotonic() - conn.opened > self.max_age_s:
                await conn.ws.close()
                return
            try:
                await conn.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return

    def _enqueue(self, conn: Connection, text: str) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if threading.get_ident() == getattr(loop, "_thread_id", None):
            conn.queue.put_nowait(text)
        else:
            loop.call_soon_threadsafe(conn.queue.put_nowait, text)

    # -- publishing -------------------------------------------------------------------------------------

    def publish_user(self, user: str, event: dict[str, Any]) -> None:
        """Send ``event`` to every user-data connection of ``user`` (faults applied: a reordered batch is
        held back and released in reverse; a duplicated event is sent twice)."""
        text = json.dumps(event, separators=(",", ":"))
        faults = self.faults
        with self._lock:
            targets = [c for c in self.connections if c.user == user]
            texts = [text]
            if faults.reorder > 0:
                faults.held.append((user, text))
                faults.reorder -= 1
                if len(faults.held) < faults.reorder_batch and faults.reorder > 0:
                    return
                texts, faults.held = [t for _, t in reversed(faults.held)], []
            copies = 1
            if faults.duplicate > 0:
                faults.duplicate -= 1
                copies = 2
        for body in texts:
            for conn in targets:
                for _ in range(copies):
                    self._enqueue(conn, body)

    def publish_market(self, stream: str, payload: dict[str, Any]) -> None:
        """Send ``payload`` to every market connection subscribed to ``stream``."""
        raw, wrapped = None, None
        with self._lock:
            targets = [c for c in self.connections if c.user is None and stream in c.streams]
        for conn in targets:
            if conn.combined:
                wrapped = wrapped or json.dumps({"stream": stream, "data": payload}, separators=(",", ":"))
                self._enqueue(conn, wrapped)
            else:
                raw = raw or json.dumps(payload, separators=(",", ":"))
                self._enqueue(conn, raw)

    def subscribed(self, prefix: str) -> bool:
        with self._lock:
            return any(s.startswith(prefix) for c in self.connections for s in c.streams)

    def on_bar_open(self, market: SymbolMarket, bar: int, interval: str) -> None:
        """Push the closed and the new kline, the mark price, the book ticker and a depth diff."""
        now = self.server.server_ms()
        sym = market.symbol.lower()
        if bar > 0:
            self.publish_market(f"{sym}@kline_{interval}", _kline(market, bar - 1, interval, now, True))
        self.publish_market(f"{sym}@kline_{interval}", _kline(market, bar, interval, now, False))
        self.push_mark(market, bar, now)
        self.push_book(market, bar, now)

    def push_mark(self, market: SymbolMarket, bar: int, now: int) -> None:
        sym = market.symbol.lower()
        payload = {
            "e": "markPriceUpdate", "E": now, "s": market.symbol, "p": fmt(market.mark_price(bar)),
            "i": fmt(market.last_price(bar)), "P": fmt(market.mark_price(bar)),
            "r": fmt(market.last_funding_rate(bar)), "T": market.next_funding_time(now),
        }  # fmt: skip
        for stream in (f"{sym}@markPrice", f"{sym}@markPrice@1s"):
            self.publish_market(stream, payload)

    def push_book(self, market: SymbolMarket, bar: int, now: int) -> None:
        sym = market.symbol.lower()
        bids, asks = market.book(bar)
        old_bids, old_asks = self._depth.get(market.symbol, ({}, {}))
        new_bids, new_asks = dict(bids), dict(asks)
        previous = market.book_update_id + self.depth_gap  # with a gap, the diffs in between are "lost"
        market.book_update_id = previous + 1
        self.depth_gap = 0
        diff_b = _diff(old_bids, new_bids)
        diff_a = _diff(old_asks, new_asks)
        self._depth[market.symbol] = (new_bids, new_asks)
        depth = {
            "e": "depthUpdate", "E": now, "T": now, "s": market.symbol, "U": market.book_update_id,
            "u": market.book_update_id, "pu": previous, "b": diff_b, "a": diff_a,
        }  # fmt: skip
        for stream in (f"{sym}@depth", f"{sym}@depth@100ms", f"{sym}@depth@500ms"):
            self.publish_market(stream, depth)
        (bid, bid_qty), (ask, ask_qty) = bids[0], asks[0]
        ticker = {
            "e": "bookTicker", "u": market.book_update_id, "E": now, "T": now, "s": market.symbol,
            "b": fmt(bid), "B": fmt(bid_qty), "a": fmt(ask), "A": fmt(ask_qty),
        }  # fmt: skip
        self.publish_market(f"{sym}@bookTicker", ticker)

    # -- faults -----------------------------------------------------------------------------------------

    async def drop(self, kind: str = "all") -> int:
        """Cut connections (``all``, ``user`` or ``market``) without a close frame; return how many."""
        with self._lock:
            chosen = [
                c for c in self.connections if kind == "all" or (kind == "user") == (c.user is not None)
            ]
        for conn in chosen:
            transport = conn.ws._req.transport if conn.ws._req is not None else None
            if transport is not None:
                transport.abort()
        return len(chosen)

    async def expire_keys(self, now: int, force: bool = False) -> int:
        """Expire listen keys (due ones, or all with ``force``): send ``listenKeyExpired`` and close."""
        gone = self.keys.expire(now, force)
        for key, user in gone:
            event = json.dumps({"e": "listenKeyExpired", "E": now, "listenKey": key}, separators=(",", ":"))
            with self._lock:
                conns = [c for c in self.connections if c.user == user]
            for conn in conns:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await conn.ws.send_str(event)
                    await conn.ws.close()
        return len(gone)

    async def close_all(self) -> None:
        with self._lock:
            conns = list(self.connections)
        for conn in conns:
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001, message=b"server shutdown")


def _diff(old: dict[float, float], new: dict[float, float]) -> list[list[str]]:
    out = [[fmt(p), "0"] for p in old if p not in new]
    out += [[fmt(p), fmt(q)] for p, q in new.items() if old.get(p) != q]
    return out


def _kline(market: SymbolMarket, bar: int, interval: str, now: int, closed: bool) -> dict[str, Any]:
    row = market.values[bar]
    start = int(market.timestamps[bar])
    o = float(row[Market.OPEN])
    c, h, lo, v = (
        (float(row[Market.CLOSE]), float(row[Market.HIGH]), float(row[Market.LOW]), float(row[Market.VOLUME]))
        if closed
        else (o, o, o, 0.0)
    )
    k = {
        "t": start, "T": start + market.interval_ms - 1, "s": market.symbol, "i": interval, "f": 0, "L": 0,
        "o": fmt(o), "c": fmt(c), "h": fmt(h), "l": fmt(lo), "v": fmt(v), "n": 0, "x": closed,
        "q": fmt(float(row[Market.NOTIONAL_VOLUME]) if closed else 0.0), "V": "0", "Q": "0", "B": "0",
    }  # fmt: skip
    return {"e": "kline", "E": now, "s": market.symbol, "k": k}
