"""Working a decision's legs on the exchange: write-ahead intents, sends, re-prices, and unknown outcomes.

Every order is first recorded in the state store under its deterministic client order id (``PENDING``),
then sent. The answer moves it on (``NEW``, ``FILLED``, ``REJECTED``...); no answer leaves it ``UNKNOWN``,
and it is settled by querying that id — never by sending again. A send for an id the store already holds
is never made: the stored order is resolved instead. That is what makes a retry, a restart or a duplicated
event unable to put the same order on the exchange twice.

Legs are worked one after another. A resting limit order is re-priced after ``reprice_after_s`` (cancel,
then the next attempt for what remains), then sent IOC at the band's edge (``execution.final``). An order
the risk state no longer allows (REDUCING: only reduce-only legs; HALTED: none) is cancelled and its leg
dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from asterrl.exchange.codes import Code
from asterrl.exchange.errors import ExchangeError, ExchangeRejected, OrderRefused, UnknownOrderStatus
from asterrl.exchange.models import Order
from asterrl.live.execution import ExecutionConfig, Leg, OrderSpec, Quote, order_for, reprice_due
from asterrl.live.order_ids import OrderKey
from asterrl.live.risk_state import RiskStateMachine
from asterrl.live.store import LIVE_STATUSES, OrderRecord, StateStore
from asterrl.live.venue import Venue
from asterrl.sim.instrument import Instrument

log = logging.getLogger("asterrl.live.orders")

#: Codes meaning a reduce-only leg has nothing left to reduce (the position is already smaller).
_NOTHING_TO_REDUCE = (int(Code.REDUCE_ONLY_REJECT),)


@dataclass
class LegWork:
    """A leg being worked: its attempts so far and what they filled (base asset)."""

    leg: Leg
    attempt: int = 0
    filled: float = 0.0
    done: bool = False
    current: str | None = None

    @property
    def remaining(self) -> float:
        return max(self.leg.qty - self.filled, 0.0)


class OrderWorker:
    """Sends and works the orders of one decision at a time.

    :param venue: the exchange.
    :param store: the state store (intents, transitions).
    :param risk: the trading state (what may still go out).
    :param cfg: the execution settings.
    :param run: the deployment's run tag (``order_ids.run_tag``).
    :param nonce_window_ms: how long an unanswered request may still be accepted by the exchange, ms.
    """

    def __init__(
        self,
        venue: Venue,
        store: StateStore,
        risk: RiskStateMachine,
        cfg: ExecutionConfig,
        run: str,
        nonce_window_ms: float,
    ) -> None:
        self.venue = venue
        self.store = store
        self.risk = risk
        self.cfg = cfg
        self.run = run
        self.nonce_window_ms = nonce_window_ms
        self.bar_ms: int | None = None
        self.leg_base = 0
        self.reference_price = 0.0
        self.legs: list[LegWork] = []
        #: Orders sent, unknown outcomes met, and sends skipped because the id was already known.
        self.sent = 0
        self.unknown = 0
        self.duplicates_avoided = 0

    @property
    def instrument(self) -> Instrument:
        assert self.venue.instrument is not None
        return self.venue.instrument

    @property
    def busy(self) -> bool:
        """Whether a decision's legs are still being worked."""
        return any(not w.done for w in self.legs)

    def start(self, bar_ms: int, legs: list[Leg], reference_price: float, leg_base: int = 0) -> None:
        """Work ``legs`` of the decision on bar ``bar_ms`` (the mark then is the slippage reference).

        :param leg_base: added to the legs' numbers in their client order ids (a flatten after the bar's
            decision numbers its legs apart from the decision's own).
        """
        self.bar_ms = bar_ms
        self.leg_base = leg_base
        self.reference_price = reference_price
        self.legs = [LegWork(leg) for leg in legs]

    async def work(self, now_ms: int, quote: Quote, flattening: bool = False) -> None:
        """Move the current leg on: send, check, re-price or finish it (then the next leg, same call).

        :param flattening: a halt's flatten: reduce-only legs go out (at market) even when HALTED.
        """
        market_only = flattening
        for work in self.legs:
            if work.done:
                continue
            if not (self.risk.allows(work.leg.reduce_only) or (flattening and work.leg.reduce_only)):
                await self._abandon(work, now_ms, "the risk state no longer allows it")
                continue
            progressed = await self._step(work, now_ms, quote, market_only)
            if not work.done or not progressed:
                return

    async def _step(self, work: LegWork, now_ms: int, quote: Quote, market_only: bool) -> bool:
        """One move on ``work``; ``True`` when the leg finished (so the next may start now)."""
        if work.current is not None:
            record = await self.refresh(work.current, now_ms)
            if record is None:
                return False
            if record.status in LIVE_STATUSES:
                resting = record.type == "LIMIT" and record.time_in_force in ("GTX", "GTC")
                if resting and record.sent_ms is not None and reprice_due(record.sent_ms, now_ms, self.cfg):
                    await self.cancel(record.client_order_id, now_ms)
                return False
            work.filled += record.filled_qty
            work.current = None
            work.attempt += 1
            if record.status == "REJECTED" and not self._retry_after_reject(record):
                work.done = True
                return True
            if record.status == "FILLED" or (
                work.remaining < self.instrument.min_qty and not work.leg.reduce_only
            ):
                work.done = True
                return True
        cfg = ExecutionConfig(style="market") if market_only else self.cfg
        spec = order_for(work.leg, work.attempt, work.remaining, quote, self.instrument, cfg)
        if spec is None or work.remaining <= 0.0:
            work.done = True
            return True
        work.current = await self.send(spec, now_ms)
        return False

    def _retry_after_reject(self, record: OrderRecord) -> bool:
        """A post-only order refused for crossing is re-priced; other rejections end the leg."""
        events = self.store.order_events(record.client_order_id)
        detail = events[-1][3] if events else ""
        return str(int(Code.GTX_ORDER_REJECT)) in detail

    async def send(self, spec: OrderSpec, now_ms: int) -> str:
        """Record the intent, then send it (once); returns its client order id."""
        assert self.bar_ms is not None
        leg = spec.leg + self.leg_base
        cid = OrderKey(self.run, self.bar_ms, leg, spec.attempt).client_order_id()
        known = self.store.order(cid)
        if known is not None:  # recorded before (a restart, a retry): settle it, never send it again
            self.duplicates_avoided += 1
            log.warning("order %s already recorded as %s: not sent again", cid, known.status,
                        extra={"event": "duplicate_avoided", "client_order_id": cid})  # fmt: skip
            return cid
        self.store.record_intent(OrderRecord(
            cid, self.bar_ms, leg, spec.attempt, spec.side, spec.type, spec.time_in_force, spec.qty,
            spec.price, spec.reduce_only, "PENDING", self.reference_price, now_ms, now_ms,
        ))  # fmt: skip
        try:
            order = await self.venue.place(spec, cid)
        except OrderRefused as exc:  # a rule check before sending: nothing left the process
            self.store.update_order(cid, "REJECTED", now_ms, f"refused before sending: {exc}")
            log.warning("order %s refused before sending: %s", cid, exc, extra={"event": "order_refused"})
            return cid
        except ExchangeRejected as exc:
            self.store.update_order(cid, "REJECTED", now_ms, f"rejected {exc.code}: {exc}", sent_ms=now_ms)
            log.warning(
                "order %s rejected: %s", cid, exc, extra={"event": "order_rejected", "code": exc.code}
            )
            return cid
        except (UnknownOrderStatus, ExchangeError) as exc:
            self.unknown += 1
            self.store.update_order(cid, "UNKNOWN", now_ms, f"no definite answer: {exc}", sent_ms=now_ms)
            log.warning("order %s outcome unknown (%s): settled by its id later", cid, exc,
                        extra={"event": "order_unknown", "client_order_id": cid})  # fmt: skip
            return cid
        self.sent += 1
        self._apply(cid, order, now_ms, sent_ms=now_ms)
        log.info("order %s %s %s %s @ %s: %s", cid, spec.side, spec.qty, spec.type, spec.price, order.status,
                 extra={"event": "order", "client_order_id": cid, "status": order.status})  # fmt: skip
        return cid

    def _apply(self, cid: str, order: Order, now_ms: int, sent_ms: int | None = None) -> None:
        changes: dict[str, Any] = {
            "exchange_order_id": order.order_id,
            "filled_qty": float(order.executed_qty),
            "avg_price": float(order.avg_price),
        }
        if sent_ms is not None:
            changes["sent_ms"] = sent_ms
        self.store.update_order(cid, order.status, now_ms, **changes)

    async def refresh(self, cid: str, now_ms: int) -> OrderRecord | None:
        """The order's state from the exchange (by its id), stored; an unanswered send is settled here."""
        record = self.store.order(cid)
        if record is None or record.status not in LIVE_STATUSES:
            return record
        try:
            order = await self.venue.order(cid)
        except ExchangeError as exc:
            log.warning("cannot read order %s now (%s)", cid, exc, extra={"event": "query_failed"})
            return None
        in_doubt = record.status in ("PENDING", "UNKNOWN")
        if order is not None:  # found: it was sent (an intent left PENDING by a killed process counts then)
            self._apply(cid, order, now_ms, sent_ms=record.sent_ms or record.created_ms)
            if in_doubt:
                fields = {"event": "order_resolved", "client_order_id": cid, "status": order.status}
                log.warning("order %s (%s) settled by its id: %s on the exchange", cid, record.status,
                            order.status, extra=fields)  # fmt: skip
        elif now_ms > record.created_ms + self.nonce_window_ms + 1_000:
            self.store.update_order(cid, "LOST", now_ms, "never reached the exchange (its window has passed)")
            lost = {"event": "order_resolved", "client_order_id": cid, "status": "LOST"}
            log.warning("order %s (%s) never reached the exchange: lost, not sent again", cid, record.status,
                        extra=lost)  # fmt: skip
        return self.store.order(cid)

    async def cancel(self, cid: str, now_ms: int) -> None:
        """Cancel one of our orders by its id and store how it ended."""
        try:
            order = await self.venue.cancel(cid)
        except ExchangeRejected:  # already finished: read how
            await self.refresh(cid, now_ms)
            return
        except ExchangeError as exc:
            log.warning("cancel of %s failed for now (%s)", cid, exc, extra={"event": "cancel_failed"})
            return
        self._apply(cid, order, now_ms)

    async def _abandon(self, work: LegWork, now_ms: int, why: str) -> None:
        if work.current is not None:
            record = self.store.order(work.current)
            if record is not None and record.status in ("NEW", "PARTIALLY_FILLED"):
                await self.cancel(work.current, now_ms)
        work.done = True
        log.info("leg %d dropped: %s", work.leg.index, why, extra={"event": "leg_dropped"})

    async def settle_all(self, now_ms: int) -> list[OrderRecord]:
        """Query every order the store does not know the end of; returns those still open or unknown."""
        out = []
        for record in self.store.live_orders():
            settled = await self.refresh(record.client_order_id, now_ms)
            if settled is not None and settled.status in LIVE_STATUSES:
                out.append(settled)
        return out

    async def cancel_resting(self, now_ms: int) -> None:
        """Cancel every open order of ours and stop working the current decision."""
        for record in self.store.live_orders():
            if record.status in ("NEW", "PARTIALLY_FILLED"):
                await self.cancel(record.client_order_id, now_ms)
        for work in self.legs:
            work.done = True
