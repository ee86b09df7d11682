"""The bridge's WebSocket side: the kline and mark-price streams wake it, the user-data stream hurries it.

REST stays the source of truth. A closed kline wakes the loop at once (no waiting for the next poll); an
order event of ours makes the bridge read that order by its id straight away; anything the streams say
twice, late or not at all changes nothing but timing. No message for ``stale_stream_s`` seconds counts as
a stale stream (the bridge polls REST meanwhile and records the breach). The client's stream classes
reconnect after drops, answer pings, and resync the user view from REST after gaps; their counters are
logged as they move, so every drop, duplicate and resync shows in the log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from asterrl.exchange.client import AsterClient
from asterrl.exchange.streams import StreamConnection, combined_url
from asterrl.exchange.user_stream import UserDataStream

log = logging.getLogger("asterrl.live.streams")


class BridgeStreams:
    """Market and user-data streams of one symbol.

    :param ws_base: WebSocket base URL.
    :param symbol: the symbol; ``interval``: its kline interval.
    :param user_client: a client of its own for the user stream's REST calls (listen keys, resyncs), or
        ``None`` to follow the market streams only.
    :param our_prefix: the start of our client order ids (events of other orders are ignored).
    """

    def __init__(
        self, ws_base: str, symbol: str, interval: str, user_client: AsterClient | None, our_prefix: str
    ) -> None:
        self.symbol = symbol
        self.our_prefix = our_prefix
        self.wake = asyncio.Event()
        #: Client order ids an event named since the bridge last looked.
        self.touched: set[str] = set()
        self.last_message = time.monotonic()
        streams = [f"{symbol}@kline_{interval}", f"{symbol}@markPrice@1s"]
        self.market = StreamConnection(combined_url(ws_base, streams), self._on_market)
        self.user_client = user_client
        self.user = UserDataStream(user_client, ws_base, self._on_user) if user_client is not None else None
        self._seen = {"drops": 0, "duplicates": 0, "resyncs": 0}
        #: Closed klines and order events received.
        self.closed_klines = 0
        self.order_events = 0

    async def start(self) -> None:
        """Connect (waiting at most 10 s each; the bridge polls REST if a stream does not come up)."""
        if self.user_client is not None:  # its first signed call must carry a nonce on the exchange's clock
            await self.user_client.sync_time()
        for name, starter in (
            ("market", self.market.start),
            ("user", self.user.start if self.user else None),
        ):
            if starter is None:
                continue
            try:
                await starter()
            except (TimeoutError, OSError, Exception) as exc:  # the streams are a speed-up, never a must
                log.warning("%s stream not connected yet (%s): polling REST meanwhile", name, exc,
                            extra={"event": "stream_fault", "stream": name})  # fmt: skip

    async def stop(self) -> None:
        await self.market.stop()
        if self.user is not None:
            await self.user.stop()

    def _on_market(self, message: dict[str, Any]) -> None:
        self.last_message = time.monotonic()
        data = message.get("data", message)
        if data.get("e") == "kline" and data.get("k", {}).get("x"):
            self.closed_klines += 1
            self.wake.set()

    def _on_user(self, event: dict[str, Any]) -> None:
        if event.get("e") == "ORDER_TRADE_UPDATE":
            cid = str(event.get("o", {}).get("c", ""))
            if cid.startswith(self.our_prefix):
                self.order_events += 1
                self.touched.add(cid)
                self.wake.set()

    def silent_for_s(self) -> float:
        """Seconds since the last market-stream message."""
        return time.monotonic() - self.last_message

    def log_changes(self) -> None:
        """Log drops, duplicated events and resyncs the stream clients met since the last call."""
        now = {"drops": len(self.market.drops) + (len(self.user.connection.drops) if self.user else 0)}
        if self.user is not None:
            now["duplicates"] = self.user.duplicates
            now["resyncs"] = self.user.resyncs
        for key, value in now.items():
            new = value - self._seen.get(key, 0)
            if new > 0:
                log.warning("streams: %d new %s", new, key,
                            extra={"event": "stream_fault", "fault": key, "count": new})  # fmt: skip
                self._seen[key] = value
