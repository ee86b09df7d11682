"""Order entry of the Aster client: checks before sending, and orders that are placed at most once.

Every order carries a client order id (one is made if the caller gives none). When placing or cancelling
gets no definite answer (503, 5xx, timeout, dropped connection) the outcome is UNKNOWN and is resolved by
querying that id before anything is sent again: found, it is the answer; not found, the client keeps asking
until the request's nonce (V3) or timestamp (V1) has left the server's window — after that the lost
request can never be accepted — and only then sends again with the same id. A retry therefore never makes
a second order. If the exchange cannot be asked either, :class:`UnknownOrderStatus` says so.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from asterrl.exchange.codes import Code, message
from asterrl.exchange.errors import (
    ExchangeError,
    ExchangeRejected,
    ExchangeUnavailable,
    NoSuchOrder,
    OrderRefused,
    RateLimited,
    UnknownOrderStatus,
    describe,
    error_from_response,
)
from asterrl.exchange.filters import check_filters, check_leverage, check_shape
from asterrl.exchange.models import Order, OrderRequest
from asterrl.exchange.rest import OutcomeUnknown

if TYPE_CHECKING:
    from asterrl.exchange.rest import RestTransport
    from asterrl.sim.instrument import Instrument

#: Seconds between queries while an unknown outcome is being resolved.
RESOLVE_POLL_S = 0.1
#: Failed queries tolerated while resolving before giving up with UnknownOrderStatus.
RESOLVE_FAILURES = 20


class OrderEntry:
    """Order placement, query and cancel for ``AsterClient`` (which provides ``rest`` and the rules)."""

    rest: RestTransport
    instruments: dict[str, Instrument]
    marks: dict[str, float]
    leverage: dict[str, int]

    def __init__(self) -> None:
        self._client_ids = itertools.count(1)
        self._id_prefix = f"ar{secrets.token_hex(4)}-"
        #: Symbols the exchange lists (from ``load_instruments``); ``None`` until loaded.
        self.listed: set[str] | None = None
        #: Unknown outcomes met and resolved, and requests re-sent after one proved lost.
        self.unknown_outcomes = 0
        self.resent_after_unknown = 0

    def next_client_order_id(self) -> str:
        """A fresh client order id, unique to this client (at most 36 characters)."""
        return f"{self._id_prefix}{next(self._client_ids)}"

    # -- checks before sending --------------------------------------------------------------------------

    def check(self, req: OrderRequest) -> None:
        """Raise :class:`OrderRefused` (with the code the exchange would answer) if ``req`` breaks a rule."""
        refusal = self._refusal(req)
        if refusal is not None:
            code, text = refusal
            raise OrderRefused(
                f"order refused before sending: {req.symbol} {describe(code, text)}", code=code
            )

    def _refusal(self, req: OrderRequest) -> tuple[int, str] | None:
        if self.listed is not None and req.symbol not in self.listed:
            return int(Code.BAD_SYMBOL), message(Code.BAD_SYMBOL)
        violation = check_shape(req)
        inst = self.instruments.get(req.symbol)
        if violation is None and inst is not None:
            violation = check_filters(inst, req, self.marks.get(req.symbol))
            lev = self.leverage.get(req.symbol)
            at = req.price if req.price is not None else _dec(self.marks.get(req.symbol))
            if (
                violation is None
                and lev
                and req.quantity is not None
                and at is not None
                and not req.reduce_only
            ):
                violation = check_leverage(inst.bracket_table(), float(req.quantity * at), lev)
        return (int(violation.code), violation.msg) if violation is not None else None

    # -- orders -----------------------------------------------------------------------------------------

    async def new_order(self, req: OrderRequest, result: bool = True, max_attempts: int = 3) -> Order:
        """Place ``req`` exactly once (checked first; a client order id is added if it has none).

        :param result: ask for the state after immediate fills (``RESULT``) rather than at acceptance.
        :raises OrderRefused: a rule check failed; nothing was sent.
        :raises OrderRejected: the exchange refused it.
        :raises UnknownOrderStatus: the outcome could not be settled.
        """
        if req.client_order_id is None:
            req = _with_client_id(req, self.next_client_order_id())
        self.check(req)
        cid = str(req.client_order_id)
        pairs = [*req.params(), ("newOrderRespType", "RESULT" if result else "ACK")]
        for _ in range(max_attempts):
            try:
                raw = await self.rest.call("POST", "order", pairs, security="TRADE", orders=1, ambiguous=True)
                return Order.from_json(raw)
            except OutcomeUnknown as unknown:
                self.unknown_outcomes += 1
                found = await self._resolve(req.symbol, cid, unknown.deadline_ms)
                if found is not None:
                    return found
                self.resent_after_unknown += 1
        raise UnknownOrderStatus(
            f"aster order {cid} on {req.symbol}: no definite answer after {max_attempts} attempts",
            client_order_id=cid,
        )

    async def _resolve(self, symbol: str, cid: str, deadline_ms: float) -> Order | None:
        """The order ``cid`` if the exchange has it; ``None`` once it provably never will."""
        failures = 0
        while True:
            try:
                return await self.get_order(symbol, client_order_id=cid)
            except NoSuchOrder:
                if self.rest.server_ms() > deadline_ms + 250.0:
                    return None
            except (ExchangeUnavailable, OutcomeUnknown, RateLimited) as exc:
                failures += 1
                if failures >= RESOLVE_FAILURES:
                    raise UnknownOrderStatus(
                        f"aster order {cid} on {symbol}: outcome unknown, exchange unreachable ({exc})",
                        client_order_id=cid,
                    ) from None
            await asyncio.sleep(RESOLVE_POLL_S)

    async def get_order(
        self, symbol: str, order_id: int | None = None, client_order_id: str | None = None
    ) -> Order:
        """One order by exchange id or client order id (-2013 raises :class:`NoSuchOrder`)."""
        params = _order_ref(symbol, order_id, client_order_id)
        return Order.from_json(await self.rest.call("GET", "order", params, security="USER_DATA"))

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Open orders (of ``symbol``, or all)."""
        params = [("symbol", symbol)] if symbol else []
        rows = await self.rest.call(
            "GET", "openOrders", params, security="USER_DATA", weight=1 if symbol else 40
        )
        return [Order.from_json(r) for r in rows]

    async def all_orders(self, symbol: str, limit: int = 500) -> list[Order]:
        """Recent orders of ``symbol`` in every state, oldest first."""
        rows = await self.rest.call(
            "GET", "allOrders", [("symbol", symbol), ("limit", str(limit))], security="USER_DATA", weight=5
        )
        return [Order.from_json(r) for r in rows]

    async def cancel_order(
        self, symbol: str, order_id: int | None = None, client_order_id: str | None = None
    ) -> Order:
        """Cancel one order; an unknown outcome is settled by querying it (a finished order is returned)."""
        params = _order_ref(symbol, order_id, client_order_id)
        for _ in range(3):
            try:
                return Order.from_json(
                    await self.rest.call("DELETE", "order", params, security="TRADE", ambiguous=True)
                )
            except OutcomeUnknown:
                self.unknown_outcomes += 1
            except NoSuchOrder:
                pass
            order = await self.get_order(symbol, order_id, client_order_id)
            if not order.is_open:
                return order
        raise UnknownOrderStatus(
            f"aster cancel of {client_order_id or order_id} on {symbol}: no definite answer",
            client_order_id=client_order_id or str(order_id),
        )

    async def cancel_all(self, symbol: str) -> None:
        """Cancel every open order of ``symbol`` (then checks none is left)."""
        for _ in range(3):
            try:
                await self.rest.call(
                    "DELETE", "allOpenOrders", [("symbol", symbol)], security="TRADE", ambiguous=True
                )
            except OutcomeUnknown:
                self.unknown_outcomes += 1
            if not await self.open_orders(symbol):
                return
        raise UnknownOrderStatus(f"aster cancel-all on {symbol}: orders still open", client_order_id="*")

    async def cancel_replace(self, symbol: str, client_order_id: str, new: OrderRequest) -> Order:
        """Amend an open order by cancel-replace: cancel ``client_order_id``, then place ``new``.

        :raises OrderRejected: the old order had already filled, so nothing new is placed.
        """
        self.check(new if new.client_order_id else _with_client_id(new, "x"))
        old = await self.cancel_order(symbol, client_order_id=client_order_id)
        if old.status == "FILLED":
            raise ExchangeRejected(
                f"aster amend of {client_order_id} on {symbol}: the order filled before it could be replaced",
                code=int(Code.CANCEL_REJECTED),
            )
        return await self.new_order(new)

    async def batch_orders(self, reqs: list[OrderRequest]) -> list[Order | ExchangeError]:
        """Place up to 5 orders in one call; each result is an order or the error it got."""
        reqs = [r if r.client_order_id else _with_client_id(r, self.next_client_order_id()) for r in reqs]
        for req in reqs:
            self.check(req)
        batch = json.dumps([dict(r.params()) for r in reqs], separators=(",", ":"))
        try:
            rows = await self.rest.call(
                "POST", "batchOrders", [("batchOrders", batch)], security="TRADE", weight=5, orders=len(reqs),
                ambiguous=True,
            )  # fmt: skip
        except OutcomeUnknown as unknown:
            self.unknown_outcomes += 1
            out: list[Order | ExchangeError] = []
            for req in reqs:
                found = await self._resolve(req.symbol, str(req.client_order_id), unknown.deadline_ms)
                out.append(found if found is not None else await self.new_order(req))
            return out
        return [_batch_row(row) for row in rows]


def _batch_row(row: dict[str, Any]) -> Order | ExchangeError:
    if "code" in row and "orderId" not in row:
        return error_from_response("aster POST batchOrders", 400, int(row["code"]), str(row.get("msg", "")))
    return Order.from_json(row)


def _order_ref(symbol: str, order_id: int | None, client_order_id: str | None) -> list[tuple[str, str]]:
    if order_id is None and client_order_id is None:
        raise ValueError("give an order id or a client order id")
    ref = ("orderId", str(order_id)) if order_id is not None else ("origClientOrderId", str(client_order_id))
    return [("symbol", symbol), ref]


def _with_client_id(req: OrderRequest, cid: str) -> OrderRequest:
    return replace(req, client_order_id=cid)


def _dec(value: float | None) -> Decimal | None:
    return Decimal(repr(value)) if value is not None else None
