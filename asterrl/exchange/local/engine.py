"""The local exchange's matching engine: accounts, order entry, fills, and the bar clock that drives them.

``LocalExchange`` owns every account and every symbol's replayed market. Orders are checked by the same
rules the client applies before sending (``asterrl.exchange.filters``) plus the account rules (reduce-only,
post-only, margin, leverage bracket, open-order count), then filled through ``asterrl.sim``'s market model
(``fills.py``). ``catch_up(now)`` processes every bar the clock has passed (``settlement.py``): resting
limit fills, stop triggers, liquidation and funding. Every change is pushed to ``on_user_event`` in Aster's
user-data format. All methods take ``lock``; the HTTP server, the bar ticker and tests may call them from
different threads.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

from asterrl.exchange.codes import Code
from asterrl.exchange.filters import check_filters, check_leverage, check_shape
from asterrl.exchange.local.api import ApiError
from asterrl.exchange.local.fills import (
    book_fill,
    limit_taker_fill,
    market_room,
    reaches_touch,
    stop_fill_price,
    taker_fill_price,
)
from asterrl.exchange.local.ledger import Account, Income, Order, Position, Trade
from asterrl.exchange.local.market import SymbolMarket
from asterrl.exchange.local.views import account_update_event, order_json, order_update_event
from asterrl.exchange.models import OrderRequest
from asterrl.sim.config import MarketModelConfig
from asterrl.sim.layout import Param

#: Server clock, UTC ms.
ClockMs = Callable[[], int]
#: Receives (user, event) for the user-data stream.
UserEventSink = Callable[[str, dict[str, Any]], None]


def _reject(reason: str) -> ApiError:
    return ApiError.of(Code.NEW_ORDER_REJECTED, reason=reason)


class LocalExchange:
    """Accounts and markets of the local exchange.

    :param now_ms: the server clock (UTC ms).
    :param model: costs and the limit-order model of every market (``asterrl.sim.MarketModelConfig``).
    :param default_leverage: leverage of a symbol until the user changes it.
    :param max_open_orders: ``MAX_NUM_ORDERS`` per symbol and account.
    """

    def __init__(
        self,
        now_ms: ClockMs,
        model: MarketModelConfig | None = None,
        default_leverage: int = 20,
        max_open_orders: int = 200,
    ) -> None:
        self.now_ms = now_ms
        self.model = (model or MarketModelConfig()).validate()
        self.default_leverage = default_leverage
        self.max_open_orders = max_open_orders
        self.lock = threading.RLock()
        self.markets: dict[str, SymbolMarket] = {}
        self.accounts: dict[str, Account] = {}
        self.on_user_event: UserEventSink = lambda user, event: None
        #: Called with (market, bar) when a bar opens (market streams push from it).
        self.on_bar_open: Callable[[SymbolMarket, int], None] = lambda market, bar: None
        self._order_ids = itertools.count(8_000_000_001)
        self._trade_ids = itertools.count(500_000_001)
        self._tran_ids = itertools.count(900_000_001)
        #: Liquidation fees collected less shortfalls covered, USDT.
        self.insurance_fund = 0.0

    # -- setup ------------------------------------------------------------------------------------------

    def add_market(self, market: SymbolMarket) -> None:
        """Trade ``market``; bars before the clock's current bar are history and are not processed."""
        with self.lock:
            now = self.now_ms()
            market.closed = market.closed_bars(now) - 1
            current = market.bar_at(now)
            market.opened = current if market.trading(current) else market.closed
            self.markets[market.symbol] = market

    def add_account(self, user: str, balance: float) -> Account:
        """Open (or return) ``user``'s account with ``balance`` USDT in the wallet."""
        with self.lock:
            account = self.accounts.get(user)
            if account is None:
                account = self.accounts[user] = Account(user=user, wallet=float(balance))
                self._income(account, "", "TRANSFER", float(balance), self.now_ms())
            return account

    def account(self, user: str) -> Account:
        account = self.accounts.get(user)
        if account is None:
            raise ApiError.of(Code.UNAUTHORIZED, status=401)
        return account

    def market(self, symbol: str | None) -> SymbolMarket:
        if not symbol:
            raise ApiError.of(Code.MANDATORY_PARAM_EMPTY_OR_MALFORMED, name="symbol")
        market = self.markets.get(symbol)
        if market is None:
            raise ApiError.of(Code.BAD_SYMBOL)
        return market

    def current_bar(self, market: SymbolMarket, now: int) -> int:
        bar = market.bar_at(now)
        if not market.trading(bar):
            raise _reject(f"the {market.symbol} market replay has no bar at {now} ms")
        return bar

    # -- order entry ------------------------------------------------------------------------------------

    def new_order(self, user: str, req: OrderRequest, result: bool = False) -> dict[str, Any]:
        """Place ``req`` for ``user``; the order's JSON at acceptance (``result``: after immediate fills)."""
        with self.lock:
            now = self.now_ms()
            self.catch_up(now)
            account = self.account(user)
            market = self.market(req.symbol)
            bar = self.current_bar(market, now)
            mark = market.mark_price(bar)
            violation = check_shape(req) or check_filters(market.instrument, req, mark)
            if violation is not None:
                raise ApiError(400, int(violation.code), violation.msg)
            order = self._accept(account, market, req, bar, now)
            ack = order_json(order)
            self._work(account, market, order, bar, now)
            return order_json(order) if result else ack

    def _accept(self, account: Account, market: SymbolMarket, req: OrderRequest, bar: int, now: int) -> Order:
        """Account rules, then the order booked as NEW (and its NEW event pushed)."""
        symbol = market.symbol
        open_here = [o for o in account.open_orders.values() if o.symbol == symbol]
        if req.client_order_id is not None and any(
            o.client_order_id == req.client_order_id for o in open_here
        ):
            raise ApiError.of(Code.DUPLICATE_CLIENT_ORDER_ID)
        if len(open_here) >= self.max_open_orders:
            raise ApiError.of(Code.MAX_OPEN_ORDER_EXCEEDED)
        pos = account.position(symbol)
        qty = float(req.quantity) if req.quantity is not None else 0.0
        sign = float(req.sign)
        if req.reduce_only and (pos.qty == 0.0 or pos.qty * sign > 0.0):
            raise ApiError.of(Code.REDUCE_ONLY_REJECT)
        price = float(req.price) if req.price is not None else 0.0
        stop = float(req.stop_price) if req.stop_price is not None else 0.0
        if (
            req.type == "LIMIT"
            and req.time_in_force == "GTX"
            and reaches_touch(market.values, market.params, bar, sign, price)
        ):
            raise ApiError.of(Code.GTX_ORDER_REJECT)
        if req.type in ("STOP_MARKET", "TAKE_PROFIT_MARKET"):
            watch = market.mark_price(bar) if req.working_type == "MARK_PRICE" else market.last_price(bar)
            above = sign > 0.0 if req.type == "STOP_MARKET" else sign < 0.0
            if (watch >= stop) if above else (watch <= stop):
                raise ApiError.of(Code.ORDER_WOULD_IMMEDIATELY_TRIGGER)
        if not req.reduce_only and not req.close_position:
            self._check_margin(account, market, pos.qty, sign * qty, price or market.mark_price(bar), bar)
        order = Order(
            order_id=next(self._order_ids),
            client_order_id=req.client_order_id or "",
            user=account.user,
            symbol=symbol,
            side=req.side,
            type=req.type,
            orig_type=req.type,
            time_in_force=req.time_in_force or "GTC",
            qty=qty,
            price=price,
            stop_price=stop,
            reduce_only=req.reduce_only,
            close_position=req.close_position,
            working_type=req.working_type or "CONTRACT_PRICE",
            price_protect=False,
            time=now,
            update_time=now,
        )
        if req.client_order_id is None:
            order.client_order_id = f"local-{order.order_id}"
        account.add_order(order)
        self.on_user_event(account.user, order_update_event(order, now, "NEW"))
        return order

    def _check_margin(
        self, account: Account, market: SymbolMarket, held: float, delta: float, price: float, bar: int
    ) -> None:
        """Leverage bracket (-2027) and initial margin (-2019) of the position the order could open."""
        pos = account.position(market.symbol)
        pending = sum(
            o.sign * o.remaining
            for o in account.open_orders.values()
            if o.symbol == market.symbol and not o.reduce_only
        )
        after = abs(held + delta + (pending if pending * delta > 0 else 0.0))
        violation = check_leverage(market.brackets, after * market.mark_price(bar), pos.leverage)
        if violation is not None:
            raise ApiError(400, int(violation.code), violation.msg)
        increase = max(abs(held + delta) - abs(held), 0.0)
        if increase == 0.0:
            return
        required = increase * price / pos.leverage + abs(delta) * price * market.params[Param.TAKER_FEE]
        if required > self.available_balance(account) + 1e-12:
            raise ApiError.of(Code.MARGIN_NOT_SUFFICIENT)

    def _work(self, account: Account, market: SymbolMarket, order: Order, bar: int, now: int) -> None:
        """Fill what the order takes at once (as a taker); expire what it may not leave resting."""
        if order.type == "MARKET":
            size = min(self._fillable(account, market, order), self._taker_room(market, bar))
            if size > 0.0:
                price = taker_fill_price(market.values, market.params, bar, order.sign, size)
                self.fill(account, market, order, bar, size, price, maker=False, now=now)
            if order.is_open:
                self._finish(account, order, "EXPIRED", now)
        elif order.type == "LIMIT":
            size, price = limit_taker_fill(
                market.values, market.params, bar, order.sign, self._fillable(account, market, order),
                order.price, market.taken_in(bar, maker=False),
            )  # fmt: skip
            if order.time_in_force == "FOK" and size < order.remaining - market.params[Param.STEP] / 2:
                self._finish(account, order, "EXPIRED", now)
                return
            if size > 0.0:
                self.fill(account, market, order, bar, size, price, maker=False, now=now)
            if order.is_open and order.time_in_force in ("IOC", "FOK"):
                self._finish(account, order, "EXPIRED", now)

    def trigger_stop(
        self,
        account: Account,
        market: SymbolMarket,
        order: Order,
        bar: int,
        now: int,
        trigger: float,
        mark: bool,
    ) -> None:
        """Fill a stop-market order triggered inside ``bar`` at ``trigger`` (USDT; a ``mark`` price or a last
        price) as a market order priced by the sim's stop rule; expire what does not fill."""
        size = min(self._fillable(account, market, order), self._taker_room(market, bar))
        if size > 0.0:
            price = stop_fill_price(market.values, market.params, bar, order.sign, size, trigger, mark)
            self.fill(account, market, order, bar, size, price, maker=False, now=now)
        if order.is_open:
            self._finish(account, order, "EXPIRED", now)

    @staticmethod
    def _taker_room(market: SymbolMarket, bar: int) -> float:
        return market_room(market.values, market.params, bar, market.taken_in(bar, maker=False))

    def _fillable(self, account: Account, market: SymbolMarket, order: Order) -> float:
        """What may fill: the remainder, cut to what a reduce-only order's position allows."""
        size = order.remaining
        if order.reduce_only or order.close_position:
            held = account.position(market.symbol).qty
            size = (
                abs(held) if order.close_position else min(size, abs(held)) if held * order.sign < 0 else 0.0
            )
        return size

    def fill(
        self,
        account: Account,
        market: SymbolMarket,
        order: Order,
        bar: int,
        size: float,
        price: float,
        maker: bool,
        now: int,
    ) -> None:
        """Book ``size`` of ``order`` at ``price`` (maker or taker fee) and push the fill's events."""
        pos = account.position(market.symbol)
        fee_rate = market.params[Param.MAKER_FEE] if maker else market.params[Param.TAKER_FEE]
        step = float(market.params[Param.STEP])
        booked = book_fill(
            account.wallet, pos.qty, pos.entry, order.sign * size, price, float(fee_rate), market.params
        )
        before = account.wallet
        account.wallet, pos.qty, pos.entry = booked.wallet, booked.qty, booked.entry
        pos.realized += booked.realized_pnl
        pos.update_time = account.update_time = now
        market.take(bar, size, maker)
        if order.close_position and order.qty == 0.0:
            order.qty = size
        done = order.executed_qty
        order.avg_price = price if done == 0.0 else (order.avg_price * done + price * size) / (done + size)
        order.executed_qty = round((done + size) / step) * step
        order.cum_quote += size * price
        order.status = "FILLED" if order.executed_qty >= order.qty - step / 2 else "PARTIALLY_FILLED"
        order.update_time = now
        trade = Trade(next(self._trade_ids), order.order_id, order.symbol, order.side, price, size,
                      booked.fee, booked.realized_pnl, maker, now)  # fmt: skip
        account.trades.append(trade)
        if booked.realized_pnl != 0.0:
            self._income(account, order.symbol, "REALIZED_PNL", booked.realized_pnl, now, trade.trade_id)
        self._income(account, order.symbol, "COMMISSION", -booked.fee, now, trade.trade_id)
        if not order.is_open:
            account.open_orders.pop(order.order_id, None)
        elif order.order_id not in account.open_orders:
            account.open_orders[order.order_id] = order
        event = order_update_event(
            order, now, "TRADE", size, price, booked.fee, booked.realized_pnl, trade.trade_id, maker
        )
        self.on_user_event(account.user, event)
        self.push_account(account, "ORDER", account.wallet - before, [market.symbol], now)

    # -- cancel -----------------------------------------------------------------------------------------

    def cancel(
        self, user: str, symbol: str, order_id: int | None, client_order_id: str | None
    ) -> dict[str, Any]:
        """Cancel one open order; -2011 when it is unknown or already finished."""
        with self.lock:
            now = self.now_ms()
            self.catch_up(now)
            account = self.account(user)
            self.market(symbol)
            order = account.find(symbol, order_id, client_order_id)
            if order is None or not order.is_open:
                raise ApiError.of(Code.CANCEL_REJECTED)
            self._finish(account, order, "CANCELED", now)
            return order_json(order)

    def cancel_all(self, user: str, symbol: str) -> None:
        """Cancel every open order of ``symbol``."""
        with self.lock:
            now = self.now_ms()
            self.catch_up(now)
            account = self.account(user)
            self.market(symbol)
            for order in [o for o in account.open_orders.values() if o.symbol == symbol]:
                self._finish(account, order, "CANCELED", now)

    def _finish(self, account: Account, order: Order, status: str, now: int) -> None:
        order.status, order.update_time = status, now
        account.open_orders.pop(order.order_id, None)
        self.on_user_event(account.user, order_update_event(order, now, status))

    # -- account arithmetic -----------------------------------------------------------------------------

    def marked_positions(self, account: Account) -> list[tuple[Position, float]]:
        """The account's open positions with their current mark price (USDT)."""
        now = self.now_ms()
        out = []
        for symbol, pos in account.positions.items():
            if pos.qty != 0.0:
                market = self.markets[symbol]
                out.append((pos, market.mark_price(market.bar_at(now))))
        return out

    def unrealized(self, account: Account) -> float:
        """Unrealised PnL of every position at its mark, USDT."""
        return sum(pos.qty * (mark - pos.entry) for pos, mark in self.marked_positions(account))

    def initial_margin(self, account: Account) -> float:
        """Initial margin of positions and of open orders that could add to them, USDT."""
        total = sum(abs(pos.qty) * mark / pos.leverage for pos, mark in self.marked_positions(account))
        for order in account.open_orders.values():
            if not order.reduce_only and not order.close_position and order.type == "LIMIT":
                total += order.remaining * order.price / account.position(order.symbol).leverage
        return total

    def signed_in(self, user: str | None, now: int) -> Account:
        """The account of an authenticated request, with the market caught up to ``now``."""
        if user is None:
            raise ApiError.of(Code.UNAUTHORIZED, status=401)
        self.catch_up(now)
        return self.account(user)

    def available_balance(self, account: Account) -> float:
        """Wallet plus unrealised PnL less initial margin, USDT."""
        return account.wallet + self.unrealized(account) - self.initial_margin(account)

    def push_account(
        self, account: Account, reason: str, change: float, symbols: list[str], now: int
    ) -> None:
        """``ACCOUNT_UPDATE`` with the wallet and the given symbols' positions."""
        rows = {}
        for symbol in symbols:
            market = self.markets[symbol]
            rows[symbol] = (account.position(symbol), market.mark_price(market.bar_at(now)))
        self.on_user_event(account.user, account_update_event(account, now, reason, change, rows))

    def _income(
        self, account: Account, symbol: str, kind: str, amount: float, now: int, trade_id: int | None = None
    ) -> None:
        account.income.append(Income(next(self._tran_ids), symbol, kind, amount, now, trade_id))

    # -- the bar clock ----------------------------------------------------------------------------------

    def catch_up(self, now: int | None = None) -> None:
        """Process every bar open and close the clock has passed since the last call (see ``settlement``)."""
        from asterrl.exchange.local.settlement import settle_until

        with self.lock:
            settle_until(self, self.now_ms() if now is None else now)
