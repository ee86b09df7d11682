"""The exchange as the bridge sees it: one symbol's account, quotes, history and orders, in floats.

A thin layer over ``asterrl.exchange.client.AsterClient`` (which signs, retries, checks every order against
the instrument before sending, and settles unknown outcomes by client order id). History comes through the
data layer's ``AsterSource`` (the same paging and parsing as ``asterrl data fetch``), in a worker thread.
Every call that reads the account fans out concurrently, so a snapshot costs one round trip.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import pandas as pd

from asterrl.data.schema import DataKind, Market, SeriesKey
from asterrl.data.sources.aster import AsterSource
from asterrl.errors import LiveError
from asterrl.exchange.client import AsterClient
from asterrl.exchange.errors import ExchangeError, NoSuchOrder
from asterrl.exchange.models import Income, Order, OrderRequest, Trade
from asterrl.live.execution import OrderSpec, Quote
from asterrl.sim.instrument import Instrument

log = logging.getLogger("asterrl.live.venue")
T = TypeVar("T")


@dataclass(frozen=True)
class AccountSnapshot:
    """The account on the exchange at one moment (one symbol).

    :param qty: signed position, base asset; ``entry``: its entry price, USDT.
    :param wallet: USDT wallet balance (realised PnL, fees and funding booked).
    :param mark: the symbol's mark price, USDT.
    :param leverage: the symbol's leverage setting.
    :param open_orders: the symbol's open orders.
    :param time_ms: server time of the snapshot, ms.
    """

    qty: float
    entry: float
    wallet: float
    mark: float
    leverage: int
    open_orders: tuple[Order, ...]
    time_ms: int


def decimal_on_grid(value: float, step: float) -> Decimal:
    """``value`` (already on the grid) as the exact decimal the exchange expects (0.1 + 0.2 -> 0.3)."""
    places = max(0, -Decimal(repr(step)).normalize().as_tuple().exponent)  # type: ignore[operator]
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-places))


class Venue:
    """One symbol on one exchange account.

    :param client: a signed ``AsterClient`` (instruments loaded by ``load``).
    :param symbol: the traded symbol; ``interval``: its bar interval.
    :param history_source: public history (``AsterSource`` at the same base URL).
    :param slow_call_ms: a call slower than this is logged, ms.
    """

    def __init__(
        self,
        client: AsterClient,
        symbol: str,
        interval: str,
        history_source: AsterSource,
        slow_call_ms: float = 1_000.0,
    ) -> None:
        self.client = client
        self.symbol = symbol
        self.interval = interval
        self.history = history_source
        self.slow_call_ms = slow_call_ms
        self.instrument: Instrument | None = None
        #: Calls that failed, needed retries, or were slow (the faults the bridge met), by kind.
        self.faults: dict[str, int] = {}

    async def _logged(self, what: str, requests: int, call: Awaitable[T]) -> T:
        """Await ``call`` (``requests`` requests when all goes well); log a failure, retries or slowness.

        The client retries 5xx, 429 and dropped connections itself; the extra requests it needed are how
        those faults show here (one log line per call that met any).
        """
        rest = self.client.rest
        before, started = rest.requests_sent, time.perf_counter()
        try:
            return await call
        except NoSuchOrder:  # an answer ("no such order"), not a fault
            raise
        except ExchangeError as exc:
            self._fault("failed", what, f"{type(exc).__name__}: {exc}")
            raise
        finally:
            extra = rest.requests_sent - before - requests
            if extra > 0:
                self._fault("retried", what, f"{extra} request(s) retried")
            elapsed = (time.perf_counter() - started) * 1000.0
            if elapsed > self.slow_call_ms:
                self._fault("slow", what, f"answered after {elapsed:.0f} ms")

    def _fault(self, kind: str, what: str, detail: str) -> None:
        self.faults[kind] = self.faults.get(kind, 0) + 1
        log.warning("exchange %s %s: %s", what, kind, detail,
                    extra={"event": "exchange_fault", "fault": kind, "call": what})  # fmt: skip

    async def load(self) -> Instrument:
        """The symbol's rules from ``exchangeInfo`` and its leverage brackets (refused if not listed)."""
        await self._logged("time", 1, self.client.sync_time())
        instruments = await self._logged("exchangeInfo", 2, self.client.load_instruments([self.symbol]))
        listed = self.client.listed or set()
        if self.symbol not in listed or self.symbol not in instruments:
            raise LiveError(f"the exchange does not list {self.symbol}: refusing to start")
        self.instrument = instruments[self.symbol]
        return self.instrument

    async def hedge_mode(self) -> bool:
        """Whether the account is in hedge (dual-side) position mode."""
        call = self.client.rest.call("GET", "positionSide/dual", security="USER_DATA", weight=30)
        body: Any = await self._logged("positionSide/dual", 1, call)
        return bool(body.get("dualSidePosition", False))

    async def sync_clock(self) -> None:
        """Measure the offset to the exchange's clock again."""
        await self._logged("time", 1, self.client.sync_time())

    def now_ms(self) -> int:
        """The server clock as the client estimates it, ms."""
        return int(self.client.rest.server_ms())

    async def snapshot(self) -> AccountSnapshot:
        """Position, wallet and open orders of the symbol, read concurrently."""
        positions, balances, orders = await self._logged("account", 3, asyncio.gather(
            self.client.positions(self.symbol), self.client.balance(), self.client.open_orders(self.symbol)
        ))  # fmt: skip
        qty = entry = mark = 0.0
        leverage = 0
        for pos in positions:
            if pos.symbol == self.symbol:
                qty += float(pos.amount)
                entry = float(pos.entry_price) if pos.amount != 0 else entry
                mark, leverage = float(pos.mark_price), pos.leverage
        wallet = sum(float(b.wallet_balance) for b in balances if b.asset == "USDT")
        entry = entry if qty != 0.0 else 0.0
        return AccountSnapshot(qty, entry, wallet, mark, leverage, tuple(orders), self.now_ms())

    async def quote(self) -> Quote:
        """The mark now, the best bid and ask, and the last trade price, read concurrently."""
        index, book, last = await self._logged("quote", 3, asyncio.gather(
            self.client.premium_index(self.symbol),
            self.client.book_ticker(self.symbol),
            self.client.rest.call("GET", "ticker/price", [("symbol", self.symbol)]),
        ))  # fmt: skip
        price = float(last["price"]) if isinstance(last, dict) and "price" in last else float("nan")
        return Quote(float(index.mark_price), float(book.bid_price), float(book.ask_price), price)

    async def history_frame(self, kind: DataKind, start_ms: int, end_ms: int) -> pd.DataFrame:
        """Closed bars (``ohlcv``/``mark``) or funding settlements in ``[start_ms, end_ms)``, canonical."""
        interval = None if kind is DataKind.FUNDING else self.interval
        key = SeriesKey(kind, Market.PERP, self.symbol, interval)
        return await asyncio.to_thread(self.history.fetch, key, start_ms, end_ms)

    async def place(self, spec: OrderSpec, client_order_id: str) -> Order:
        """Send one order (checked against the instrument first; placed at most once by its id)."""
        inst = self._instrument()
        request = OrderRequest(
            symbol=self.symbol,
            side=spec.side,
            type=spec.type,
            quantity=decimal_on_grid(
                spec.qty, inst.market_step_size if spec.type == "MARKET" else inst.step_size
            ),
            price=None if spec.price is None else decimal_on_grid(spec.price, inst.tick_size),
            time_in_force=spec.time_in_force,
            reduce_only=spec.reduce_only,
            client_order_id=client_order_id,
        )
        return await self._logged("order", 1, self.client.new_order(request))

    async def cancel(self, client_order_id: str) -> Order:
        """Cancel by client order id (a finished order comes back as it finished)."""
        return await self._logged(
            "cancel", 1, self.client.cancel_order(self.symbol, client_order_id=client_order_id)
        )

    async def cancel_all(self) -> None:
        await self._logged("cancel all", 2, self.client.cancel_all(self.symbol))

    async def order(self, client_order_id: str) -> Order | None:
        """The order with this client id, or ``None`` when the exchange has never had it."""
        try:
            query = self.client.get_order(self.symbol, client_order_id=client_order_id)
            return await self._logged("query order", 1, query)
        except NoSuchOrder:
            return None

    async def trades_since(self, from_id: int | None, start_ms: int | None = None) -> list[Trade]:
        """Fills in the symbol from trade id ``from_id`` (or from time ``start_ms``), oldest first."""
        call = self.client.user_trades(self.symbol, start_ms=start_ms, from_id=from_id, limit=1000)
        return await self._logged("trades", 1, call)

    async def funding_since(self, start_ms: int) -> list[Income]:
        """Funding fees booked since ``start_ms`` (positive: received)."""
        return await self._logged(
            "funding", 1, self.client.income(self.symbol, "FUNDING_FEE", start_ms=start_ms, limit=1000)
        )

    async def set_leverage(self, leverage: int) -> None:
        await self._logged("leverage", 1, self.client.change_leverage(self.symbol, leverage))

    def _instrument(self) -> Instrument:
        if self.instrument is None:
            raise LiveError("venue used before load()")
        return self.instrument
