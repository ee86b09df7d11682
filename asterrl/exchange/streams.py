"""WebSocket streams of the Aster client (``websockets``): one connection kept alive, market streams, and
an order book kept in sync by Aster's snapshot-and-sequence rule (reference §9, §13).

:class:`StreamConnection` reconnects after any drop with jittered exponential backoff, reconnects before
the venue's 24-hour cut-off, treats ``stall_timeout_s`` without a message as a dead connection, and
answers the server's pings (the library does). ``on_connect`` runs after each (re)connect — the place to
resubscribe or resync from REST, since whatever was sent while disconnected is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection, connect

from asterrl.exchange import redact
from asterrl.exchange.models import DepthSnapshot, dec

log = logging.getLogger("asterrl.exchange")

#: Handles one decoded message; may be a coroutine function.
MessageHandler = Callable[[dict[str, Any]], Awaitable[None] | None]
#: The URL to connect to, computed per connection (a user stream's listen key can change).
UrlSource = Callable[[], Awaitable[str]]


class StreamConnection:
    """One WebSocket kept open until ``stop``.

    :param url: the stream URL, or a coroutine function returning it at each connect.
    :param on_message: called with each decoded JSON message, in arrival order.
    :param on_connect: awaited after each successful (re)connect, before messages are read.
    :param stall_timeout_s: no message for this long counts as a dead connection (``None``: never).
    :param max_age_s: reconnect proactively after this long (Aster drops connections at 24 h).
    :param backoff_base_s: first reconnect delay; doubles per failed attempt up to ``backoff_cap_s``,
        times a jitter factor uniform in [0.5, 1).
    :param ping_interval_s: client pings (and the timeout for their pongs).
    :param seed: seed of the jitter.
    """

    def __init__(
        self,
        url: str | UrlSource,
        on_message: MessageHandler,
        *,
        on_connect: Callable[[], Awaitable[None]] | None = None,
        stall_timeout_s: float | None = None,
        max_age_s: float = 23.5 * 3600.0,
        backoff_base_s: float = 0.1,
        backoff_cap_s: float = 10.0,
        ping_interval_s: float = 20.0,
        seed: int | None = None,
    ) -> None:
        redact.install()
        self._url = url
        self._on_message = on_message
        self._on_connect = on_connect
        self.stall_timeout_s = stall_timeout_s
        self.max_age_s = max_age_s
        self._backoff = (backoff_base_s, backoff_cap_s)
        self._ping = ping_interval_s
        self._rng = random.Random(seed)
        self._task: asyncio.Task[None] | None = None
        self._ws: ClientConnection | None = None
        self._connected = asyncio.Event()
        #: Successful connections so far (the first included), and why each previous one ended.
        self.connects = 0
        self.drops: list[str] = []
        #: The text of the message being handled (for handlers that fingerprint messages).
        self.last_raw = ""

    async def start(self) -> None:
        """Connect in the background and wait for the first connection (up to ``timeout_s``)."""
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())
        await self.wait_connected()

    async def wait_connected(self, timeout_s: float = 10.0) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout_s)

    async def stop(self) -> None:
        """Close the connection and stop reconnecting."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def send(self, message: dict[str, Any]) -> None:
        """Send a JSON control frame (SUBSCRIBE, ...) on the current connection."""
        if self._ws is None:
            raise ConnectionError("stream is not connected")
        await self._ws.send(json.dumps(message))

    async def reconnect(self) -> None:
        """Drop the current connection; the loop connects again."""
        if self._ws is not None:
            await self._ws.close()

    async def _url_now(self) -> str:
        return self._url if isinstance(self._url, str) else await self._url()

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                url = await self._url_now()
                async with connect(
                    url, ping_interval=self._ping, ping_timeout=self._ping, open_timeout=10
                ) as ws:
                    self._ws = ws
                    self.connects += 1
                    failures = 0
                    if self._on_connect is not None:
                        await self._on_connect()
                    self._connected.set()
                    reason = await self._read(ws)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure to connect or read: back off and reconnect
                reason = type(exc).__name__
                failures += 1
            finally:
                self._ws = None
                self._connected.clear()
            self.drops.append(reason)
            log.debug("stream dropped (%s); reconnecting", reason)
            base, cap = self._backoff
            await asyncio.sleep(min(cap, base * 2.0 ** min(failures, 16)) * (0.5 + 0.5 * self._rng.random()))

    async def _read(self, ws: ClientConnection) -> str:
        opened = time.monotonic()
        while True:
            left = self.max_age_s - (time.monotonic() - opened)
            if left <= 0:
                return "max_age"
            timeout = left if self.stall_timeout_s is None else min(left, self.stall_timeout_s)
            try:
                async with asyncio.timeout(timeout):  # no task per message, unlike wait_for
                    text = await ws.recv()
            except TimeoutError:
                if time.monotonic() - opened >= self.max_age_s:
                    return "max_age"
                return "stalled"
            except websockets.ConnectionClosed:
                return "closed"
            try:
                message = json.loads(text)
            except ValueError:
                continue
            self.last_raw = text if isinstance(text, str) else text.decode()
            result = self._on_message(message)
            if inspect.isawaitable(result):
                await result


def stream_name(stream: str) -> str:
    """A stream name with its symbol lower-cased, as Aster expects (``BTCUSDT@markPrice`` ->
    ``btcusdt@markPrice``); the rest keeps its case."""
    symbol, at, rest = stream.partition("@")
    return f"{symbol.lower()}{at}{rest}"


def combined_url(ws_base: str, streams: list[str]) -> str:
    """``<base>/stream?streams=a/b``."""
    return f"{ws_base.rstrip('/')}/stream?streams={'/'.join(stream_name(s) for s in streams)}"


class OrderBook:
    """A local order book kept in sync with a ``<symbol>@depth`` diff stream and REST snapshots.

    Feed every depth event to :meth:`on_event`. Until synced, events are buffered; ``sync`` takes a
    snapshot, drops buffered events with ``u`` below its ``lastUpdateId``, and applies the rest starting with
    the one covering it. After that each event's ``pu`` must equal the previous ``u``; a break (a lost diff)
    triggers a new snapshot.

    :param snapshot: returns a fresh REST snapshot (``AsterClient.depth``).
    """

    def __init__(self, snapshot: Callable[[], Awaitable[DepthSnapshot]]) -> None:
        self._snapshot = snapshot
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.last_update_id = 0
        self.synced = False
        self._buffer: list[dict[str, Any]] = []
        self._syncing: asyncio.Task[None] | None = None
        #: Snapshots taken (the first included).
        self.snapshots = 0

    def best(self) -> tuple[tuple[Decimal, Decimal] | None, tuple[Decimal, Decimal] | None]:
        """Best (price, qty) of each side, ``None`` when empty."""
        bid = max(self.bids.items()) if self.bids else None
        ask = min(self.asks.items()) if self.asks else None
        return bid, ask

    async def on_event(self, event: dict[str, Any]) -> None:
        """Apply (or buffer) one ``depthUpdate`` event."""
        if not self.synced:
            self._buffer.append(event)
            if self._syncing is None or self._syncing.done():
                self._syncing = asyncio.ensure_future(self.sync())
            return
        if int(event["pu"]) != self.last_update_id:
            self.synced = False
            self._buffer = [event]
            self._syncing = asyncio.ensure_future(self.sync())
            return
        self._apply(event)

    async def sync(self) -> None:
        """Take a snapshot and replay the buffered events that follow it."""
        snap = await self._snapshot()
        self.snapshots += 1
        self.bids = {p: q for p, q in snap.bids if q > 0}
        self.asks = {p: q for p, q in snap.asks if q > 0}
        self.last_update_id = snap.last_update_id
        pending = [e for e in self._buffer if int(e["u"]) >= snap.last_update_id]
        self._buffer = []
        self.synced = True
        for event in pending:
            if (
                int(event["U"]) <= self.last_update_id <= int(event["u"])
                or int(event["pu"]) == self.last_update_id
            ):
                self._apply(event)
            else:
                self.synced = False
                self._buffer = [event]
                return

    def _apply(self, event: dict[str, Any]) -> None:
        for side, levels in ((self.bids, event.get("b", [])), (self.asks, event.get("a", []))):
            for price, qty in levels:
                p, q = dec(price), dec(qty)
                if q == 0:
                    side.pop(p, None)
                else:
                    side[p] = q
        self.last_update_id = int(event["u"])
