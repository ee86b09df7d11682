"""Reconciliation: the exchange's view and the state store brought into agreement, before the first decision
and on every cycle, with every difference logged.

Each pass: every order the store does not know the end of is settled by its client order id (an intent
left ``PENDING`` by a killed process is found, or declared lost once its signing window has passed); the
fills since the last recorded trade are booked (deduplicated by trade id) and each is checked against the
slippage limit; funding fees are booked; the account is read and stored as the exchange says. The position
the store expected (the previous snapshot plus the fills since) is compared with the exchange's; a
difference is logged as a ``reconcile`` event, and the exchange's number is what the bridge trades on.

At start, what the store does not know is handled by ``deploy.reconcile``: open orders that are not ours
(``adopt``, ``cancel`` or ``halt``) and a position it never recorded (``adopt``, ``flatten`` or ``halt``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from asterrl.live.config import LiveLimits, ReconcileConfig
from asterrl.live.order_ids import parse_client_order_id
from asterrl.live.orders import OrderWorker
from asterrl.live.risk_state import RiskStateMachine, TradingState
from asterrl.live.store import OrderRecord, StateStore
from asterrl.live.venue import AccountSnapshot, Venue

log = logging.getLogger("asterrl.live.reconcile")


@dataclass
class Reconciliation:
    """What one pass found.

    :param account: the exchange's account after the pass.
    :param differences: each difference between the store's expectation and the exchange, in words.
    :param new_fills: ``(signed qty, price, fee)`` of fills booked in this pass.
    :param funding: funding booked in this pass, USDT (positive: received).
    """

    account: AccountSnapshot
    differences: list[str] = field(default_factory=list)
    new_fills: list[tuple[float, float, float]] = field(default_factory=list)
    funding: float = 0.0


class Reconciler:
    """Keeps the store in agreement with the exchange.

    :param venue: the exchange; ``store``: the state store; ``worker``: settles orders by id.
    :param risk: breaches found here (slippage, unexplained state) move it.
    :param run: our run tag (ids of ours start with ``a<run>``).
    """

    def __init__(
        self,
        venue: Venue,
        store: StateStore,
        worker: OrderWorker,
        risk: RiskStateMachine,
        rules: ReconcileConfig,
        limits: LiveLimits,
        run: str,
    ) -> None:
        self.venue, self.store, self.worker, self.risk = venue, store, worker, risk
        self.rules, self.limits, self.run = rules, limits, run
        #: Passes made and differences found so far.
        self.passes = 0
        self.differences = 0

    async def at_start(self, now_ms: int) -> Reconciliation:
        """The first pass, with the start-up rules for what the store does not know."""
        result = await self.cycle(now_ms, first=True)
        foreign = [o for o in result.account.open_orders if not self._ours(o.client_order_id)]
        if foreign:
            rule = self.rules.open_orders
            what = f"{len(foreign)} open order(s) not placed by this run"
            if rule == "cancel":
                for order in foreign:
                    await self.venue.client.cancel_order(self.venue.symbol, order_id=order.order_id)
                log.warning("%s: cancelled", what, extra={"event": "reconcile", "rule": rule})
            elif rule == "halt":
                self._breach(f"{what} (deploy.reconcile.open_orders=halt)")
            else:
                log.warning("%s: adopted (left working)", what, extra={"event": "reconcile", "rule": rule})
        known = self.store.last_account() is not None and self.store.get_meta("account_known", False)
        if result.account.qty != 0.0 and not known:
            rule = self.rules.position
            what = f"a position of {result.account.qty} {self.venue.symbol} this run never recorded"
            if rule == "halt":
                self._breach(f"{what} (deploy.reconcile.position=halt)")
            else:
                log.warning("%s: %s", what, "adopted" if rule == "adopt" else "to be flattened",
                            extra={"event": "reconcile", "rule": rule})  # fmt: skip
        self.store.set_meta("account_known", True)
        return result

    def _ours(self, cid: str) -> bool:
        key = parse_client_order_id(cid)
        return key is not None and key.run == self.run

    def _breach(self, detail: str) -> None:
        state = TradingState.parse(self.limits.breach.get("reconcile", "halted"))
        self.risk.breach("reconcile", detail, state)

    async def cycle(self, now_ms: int, first: bool = False) -> Reconciliation:
        """One pass (see the module docstring)."""
        self.passes += 1
        await self.worker.settle_all(now_ms)
        previous = self.store.last_account()
        fills = await self._book_fills()
        funding = await self._book_funding(now_ms)
        account = await self.venue.snapshot()
        for order in account.open_orders:  # ours but unknown to the store (its file was lost): adopt
            if self._ours(order.client_order_id) and self.store.order(order.client_order_id) is None:
                self._adopt(order, now_ms)
        result = Reconciliation(account, new_fills=fills, funding=funding)
        if previous is not None and not first:
            expected = previous[1] + sum(q for q, _, _ in fills)
            step = self.venue.instrument.step_size if self.venue.instrument else 0.0
            if abs(expected - account.qty) > step / 2:
                result.differences.append(
                    f"position: the store expected {expected:g}, the exchange holds {account.qty:g}"
                )
        equity = account.wallet + account.qty * (account.mark - account.entry)
        self.store.record_account(now_ms, account.qty, account.entry, account.wallet, equity, "exchange")
        for text in result.differences:
            self.differences += 1
            log.warning("reconcile: %s (the exchange's view is kept)", text,
                        extra={"event": "reconcile_difference"})  # fmt: skip
        return result

    def _adopt(self, order: object, now_ms: int) -> None:
        from asterrl.exchange.models import Order

        assert isinstance(order, Order)
        key = parse_client_order_id(order.client_order_id)
        assert key is not None
        record = OrderRecord(
            order.client_order_id, key.bar_ms, key.leg, key.attempt, order.side, order.type,
            order.time_in_force or None, float(order.orig_qty), float(order.price) or None, order.reduce_only,
            order.status, float(order.price), now_ms, now_ms, order.order_id, float(order.executed_qty),
            float(order.avg_price), now_ms,
        )  # fmt: skip
        self.store.record_intent(record)
        log.warning("reconcile: order %s of this run was on the exchange but not in the store: adopted",
                    order.client_order_id, extra={"event": "reconcile_difference"})  # fmt: skip

    async def _book_fills(self) -> list[tuple[float, float, float]]:
        last = self.store.last_trade_id()
        since = int(self.store.get_meta("started_ms", 0))  # the run's first start: earlier fills are not ours
        trades = await self.venue.trades_since(
            None if last is None else last + 1, since if last is None else None
        )
        out = []
        max_slip = self.limits.max_slippage_bps * 1e-4
        for trade in trades:
            record = self.store.order_by_exchange_id(trade.order_id)
            cid = record.client_order_id if record is not None else ""
            sign = 1.0 if trade.side == "BUY" else -1.0
            qty, price = sign * float(trade.qty), float(trade.price)
            fee = float(trade.commission)
            if not self.store.record_fill(trade.trade_id, cid, trade.time, qty, price, fee,
                                          float(trade.realized_pnl), trade.maker):  # fmt: skip
                continue
            out.append((qty, price, fee))
            if record is not None and record.reference_price > 0.0:
                adverse = sign * (price / record.reference_price - 1.0)
                if adverse > max_slip:
                    state = TradingState.parse(self.limits.breach.get("slippage", "halted"))
                    self.risk.breach(
                        "slippage",
                        f"fill of {cid} at {price} is {adverse * 1e4:.1f} bps from the reference "
                        f"{record.reference_price} (limit {self.limits.max_slippage_bps:g} bps)",
                        state,
                    )
        return out

    async def _book_funding(self, now_ms: int) -> float:
        last = self.store.last_funding_ms()
        total = 0.0
        since = last + 1 if last is not None else int(self.store.get_meta("started_ms", now_ms))
        for income in await self.venue.funding_since(since):
            if self.store.record_funding(income.tran_id, income.time, float(income.income)):
                total += float(income.income)
        return total
