"""The user-data stream of the Aster client and the local view of the account it keeps (reference §12).

:class:`UserDataStream` creates a listen key, connects to ``/ws/<listenKey>``, keeps the key alive (every
30 min by default), re-creates it on ``listenKeyExpired`` or -1125, and reconnects after any drop. Events
update an :class:`AccountView`: orders merge monotonically (cumulative quantity and a final status never
go back, so a duplicated or late event cannot undo a newer one), the wallet and positions come from
``ACCOUNT_UPDATE``. Anything that means events may be missing or out of order — a reconnect, a duplicate,
an event older than one already seen, an update to an order never seen as NEW, a jump in an order's
cumulative quantity — schedules a REST resync (positions, balance, open orders) once the stream has been
quiet for ``resync_delay_s``, after which the view equals the exchange's.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from asterrl.exchange.errors import ListenKeyInvalid
from asterrl.exchange.models import dec
from asterrl.exchange.streams import StreamConnection

if TYPE_CHECKING:
    from asterrl.exchange.client import AsterClient

log = logging.getLogger("asterrl.exchange")

_RANK = {"NEW": 0, "PARTIALLY_FILLED": 1, "FILLED": 2, "CANCELED": 2, "EXPIRED": 2, "REJECTED": 2}


@dataclass
class OrderState:
    """An order as the stream last described it."""

    order_id: int
    client_order_id: str
    symbol: str
    status: str
    executed_qty: Decimal

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED")


@dataclass
class AccountView:
    """The account as the client believes it to be: wallet (USDT), positions (base asset), orders."""

    wallet: Decimal | None = None
    positions: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    orders: dict[int, OrderState] = field(default_factory=dict)

    def open_orders(self) -> dict[int, OrderState]:
        return {i: o for i, o in self.orders.items() if o.is_open}

    def merge_order(self, state: OrderState) -> bool:
        """Apply ``state`` unless it is older than what is known; False when it reveals a gap."""
        known = self.orders.get(state.order_id)
        if known is None:
            self.orders[state.order_id] = state
            return state.status == "NEW" or state.executed_qty == 0
        newer = state.executed_qty > known.executed_qty or (
            state.executed_qty == known.executed_qty and _RANK[state.status] > _RANK[known.status]
        )
        if newer and _RANK[known.status] < 2:
            self.orders[state.order_id] = state
        return True


class UserDataStream:
    """Keeps an :class:`AccountView` in step with the exchange.

    :param client: the REST client (listen keys, resyncs).
    :param ws_base: WebSocket base URL (``wss://fstream.asterdex.com`` or a local exchange's).
    :param on_event: also called with every event after it is applied (MARGIN_CALL included).
    :param keep_alive_s: listen-key keep-alive period, seconds.
    :param resync_delay_s: quiet time after an anomaly before the REST resync, seconds.
    :param stall_timeout_s: see :class:`StreamConnection`.
    """

    def __init__(
        self,
        client: AsterClient,
        ws_base: str,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        *,
        keep_alive_s: float = 1800.0,
        resync_delay_s: float = 0.2,
        stall_timeout_s: float | None = None,
    ) -> None:
        self.client = client
        self.ws_base = ws_base.rstrip("/")
        self.view = AccountView()
        self.on_event = on_event
        self.keep_alive_s = keep_alive_s
        self.resync_delay_s = resync_delay_s
        self._key: str | None = None
        self._seen: deque[bytes] = deque(maxlen=4096)
        self._seen_set: set[bytes] = set()
        self._last_ms: dict[str, int] = {}
        self._resync_due: asyncio.TimerHandle | None = None
        self._resync_task: asyncio.Task[None] | None = None
        self._keep_alive_task: asyncio.Task[None] | None = None
        self._reconnecting: asyncio.Future[None] | None = None
        self.connection = StreamConnection(self._url, self._on_message, on_connect=self._on_connect,
                                           stall_timeout_s=stall_timeout_s)  # fmt: skip
        #: Counters: events applied, duplicates dropped, resyncs done, listen keys created.
        self.events = 0
        self.duplicates = 0
        self.resyncs = 0
        self.keys_created = 0

    async def start(self) -> None:
        """Resync from REST, connect, and keep the listen key alive."""
        await self.resync()
        await self.connection.start()
        self._keep_alive_task = asyncio.ensure_future(self._keep_alive())

    async def stop(self) -> None:
        """Disconnect and stop every background task (the listen key is left to expire)."""
        for task in (self._keep_alive_task, self._resync_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._resync_due is not None:
            self._resync_due.cancel()
        await self.connection.stop()

    async def settled(self, timeout_s: float = 10.0) -> None:
        """Wait until no resync is pending or running."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self._resync_due is not None or (
            self._resync_task is not None and not self._resync_task.done()
        ):
            if loop.time() > deadline:
                raise TimeoutError("user-data view did not settle")
            await asyncio.sleep(0.02)

    # -- connection -------------------------------------------------------------------------------------

    async def _url(self) -> str:
        """The stream URL; on a reconnect the key is first extended, and replaced if it has expired."""
        if self._key is not None and self.connection.connects > 0:
            try:
                await self.client.keep_alive_listen_key()
            except ListenKeyInvalid:
                self._key = None
        if self._key is None:
            self._key = await self.client.create_listen_key()
            self.keys_created += 1
        return f"{self.ws_base}/ws/{self._key}"

    async def _on_connect(self) -> None:
        if self.connection.connects > 1:
            self.schedule_resync()

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(self.keep_alive_s)
            try:
                await self.client.keep_alive_listen_key()
            except ListenKeyInvalid:
                self._key = None
                await self.connection.reconnect()

    # -- events -----------------------------------------------------------------------------------------

    def _on_message(self, event: dict[str, Any]) -> None:
        raw = self.connection.last_raw or json.dumps(event, sort_keys=True)
        digest = hashlib.blake2b(raw.encode(), digest_size=16).digest()
        if digest in self._seen_set:
            self.duplicates += 1
            self.schedule_resync()
            return
        if len(self._seen) == self._seen.maxlen:
            self._seen_set.discard(self._seen[0])
        self._seen.append(digest)
        self._seen_set.add(digest)
        kind = str(event.get("e"))
        when = int(event.get("E", 0))
        last = self._last_ms.get(kind, 0)
        self._last_ms[kind] = max(last, when)
        if kind == "listenKeyExpired":
            self._key = None  # the next connection creates a new key
            self._reconnecting = asyncio.ensure_future(self.connection.reconnect())
        elif kind == "ORDER_TRADE_UPDATE":
            o = event["o"]
            state = OrderState(int(o["i"]), str(o["c"]), str(o["s"]), str(o["X"]), dec(o["z"]))
            known = self.view.orders.get(state.order_id)
            jump = known is not None and state.executed_qty - known.executed_qty > dec(o.get("l", 0))
            if not self.view.merge_order(state) or jump or when < last:
                self.schedule_resync()
        elif kind == "ACCOUNT_UPDATE":
            data = event["a"]
            for row in data.get("B", []):
                if row.get("a") == "USDT":
                    self.view.wallet = dec(row["wb"])
            for row in data.get("P", []):
                self.view.positions[str(row["s"])] = (dec(row["pa"]), dec(row["ep"]))
            if when <= last:
                self.schedule_resync()  # not newer than the last one: it may be stale
        self.events += 1
        if self.on_event is not None:
            self.on_event(event)

    # -- resync -----------------------------------------------------------------------------------------

    def schedule_resync(self) -> None:
        """Resync from REST once the stream has been quiet for ``resync_delay_s``."""
        loop = asyncio.get_running_loop()
        if self._resync_due is not None:
            self._resync_due.cancel()
        self._resync_due = loop.call_later(self.resync_delay_s, self._fire_resync)

    def _fire_resync(self) -> None:
        self._resync_due = None
        if self._resync_task is None or self._resync_task.done():
            self._resync_task = asyncio.ensure_future(self.resync())
        else:
            self.schedule_resync()

    async def resync(self) -> None:
        """Replace the view's wallet, positions and open orders with the exchange's (REST)."""
        positions = await self.client.positions()
        balances = await self.client.balance()
        open_orders = await self.client.open_orders()
        self.view.positions = {p.symbol: (p.amount, p.entry_price) for p in positions}
        self.view.wallet = next((b.wallet_balance for b in balances if b.asset == "USDT"), None)
        live = {o.order_id for o in open_orders}
        for order in open_orders:
            self.view.orders[order.order_id] = OrderState(
                order.order_id, order.client_order_id, order.symbol, order.status, order.executed_qty
            )
        for order_id, state in list(self.view.orders.items()):
            if state.is_open and order_id not in live:
                final = await self.client.get_order(state.symbol, order_id=order_id)
                self.view.orders[order_id] = OrderState(
                    final.order_id, final.client_order_id, final.symbol, final.status, final.executed_qty
                )
        self.resyncs += 1
        log.debug("user-data view resynced from REST")
