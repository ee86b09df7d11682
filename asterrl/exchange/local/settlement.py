"""What happens on the local exchange when the clock passes a bar's open or close.

At bar ``k``'s open: a position already beyond maintenance at the valuation open is liquidated (a gap),
before any order of the bar fills. At bar ``k``'s close, in the env's order: resting limit orders the bar
traded through by a tick or more fill at their limit (maker, the env's share of them), stops whose trigger
the bar reached fill as market orders from the trigger price (the sim's stop rule), then each position is
checked against the bar's adverse valuation extreme (liquidation), then funding settles on the valuation
close. Accounts near liquidation get a MARGIN_CALL. Every rule is the
sim's (``fills.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from asterrl.exchange.local.fills import Liquidation, funding_payment, liquidate_if_breached, resting_fill
from asterrl.exchange.local.ledger import Account, Order, Trade
from asterrl.exchange.local.views import margin_call_event, order_update_event
from asterrl.sim.kernels import maintenance_margin
from asterrl.sim.layout import Market

if TYPE_CHECKING:
    from asterrl.exchange.local.engine import LocalExchange
    from asterrl.exchange.local.market import SymbolMarket

#: Maintenance margin over margin balance at which a MARGIN_CALL is pushed.
MARGIN_CALL_RATIO = 0.8


def settle_until(exchange: LocalExchange, now: int) -> None:
    """Process every bar open and close of every market up to ``now`` (UTC ms), in time order per market."""
    for market in exchange.markets.values():
        closed = market.closed_bars(now)
        while market.closed < closed - 1:
            bar = market.closed + 1
            if market.opened < bar:
                _bar_open(exchange, market, bar, int(market.timestamps[bar]))
            _bar_close(exchange, market, bar, int(market.timestamps[bar]) + market.interval_ms)
            market.closed = bar
        current = market.bar_at(now)
        if market.trading(current) and market.opened < current:
            _bar_open(exchange, market, current, int(market.timestamps[current]))


def _holders(exchange: LocalExchange, symbol: str) -> list[Account]:
    return [a for a in exchange.accounts.values() if symbol in a.positions and a.positions[symbol].qty != 0.0]


def _bar_open(exchange: LocalExchange, market: SymbolMarket, bar: int, at: int) -> None:
    market.opened = bar
    for account in _holders(exchange, market.symbol):
        _check_liquidation(exchange, account, market, bar, at, at_open=True)
    exchange.on_bar_open(market, bar)


def _bar_close(exchange: LocalExchange, market: SymbolMarket, bar: int, at: int) -> None:
    resting = sorted(
        (o for a in exchange.accounts.values() for o in a.open_orders.values() if o.symbol == market.symbol),
        key=lambda o: o.order_id,
    )
    for order in resting:
        if order.is_open:
            _work_resting(exchange, exchange.accounts[order.user], market, order, bar, at)
    for account in _holders(exchange, market.symbol):
        if not _check_liquidation(exchange, account, market, bar, at, at_open=False):
            _settle_funding(exchange, account, market, bar, at)
    for account in _holders(exchange, market.symbol):
        _margin_call(exchange, account, market, bar, at)


def _work_resting(
    exchange: LocalExchange, account: Account, market: SymbolMarket, order: Order, bar: int, at: int
) -> None:
    values = market.values
    if order.type == "LIMIT":
        size = resting_fill(
            values, market.params, bar, order.sign, exchange._fillable(account, market, order), order.price,
            market.taken_in(bar, maker=True),
        )  # fmt: skip
        if size > 0.0:
            exchange.fill(account, market, order, bar, size, order.price, maker=True, now=at)
        return
    mark = order.working_type == "MARK_PRICE"
    high = values[bar, Market.VALUE_HIGH if mark else Market.HIGH]
    low = values[bar, Market.VALUE_LOW if mark else Market.LOW]
    opened = values[bar, Market.VALUE_OPEN if mark else Market.OPEN]
    rising = (order.type == "STOP_MARKET") == (order.sign > 0.0)
    if not (high >= order.stop_price if rising else low <= order.stop_price):
        return
    order.triggered = True
    if order.reduce_only or order.close_position:
        held = account.position(market.symbol).qty
        if held == 0.0 or held * order.sign > 0.0:
            exchange._finish(account, order, "EXPIRED", at)
            return
    trigger = max(order.stop_price, opened) if rising else min(order.stop_price, opened)  # or the gap's open
    exchange.trigger_stop(account, market, order, bar, at, float(trigger), mark)


def margin_wallet(exchange: LocalExchange, account: Account, symbol: str, at: int) -> float:
    """The wallet backing ``symbol``'s position under cross margin: the wallet plus the other positions'
    unrealised PnL less their maintenance margin."""
    wallet = account.wallet
    for other, pos in account.positions.items():
        if other != symbol and pos.qty != 0.0:
            market = exchange.markets[other]
            mark = market.mark_price(market.bar_at(at))
            wallet += pos.qty * (mark - pos.entry) - maintenance_margin(abs(pos.qty) * mark, market.brackets)
    return wallet


def _check_liquidation(
    exchange: LocalExchange, account: Account, market: SymbolMarket, bar: int, at: int, at_open: bool
) -> bool:
    pos = account.position(market.symbol)
    backing = margin_wallet(exchange, account, market.symbol, at)
    liq = liquidate_if_breached(
        backing, pos.qty, pos.entry, market.values, market.params, market.brackets, bar, at_open
    )
    if liq is None:
        return False
    _book_liquidation(exchange, account, market, liq, at)
    return True


def _book_liquidation(
    exchange: LocalExchange, account: Account, market: SymbolMarket, liq: Liquidation, at: int
) -> None:
    """Cancel the symbol's open orders, close the position at the liquidation price and push the events."""
    for order in [o for o in account.open_orders.values() if o.symbol == market.symbol]:
        exchange._finish(account, order, "CANCELED", at)
    pos = account.position(market.symbol)
    side = "SELL" if liq.qty > 0 else "BUY"
    order = Order(
        order_id=next(exchange._order_ids),
        client_order_id=f"autoclose-{at}",
        user=account.user,
        symbol=market.symbol,
        side=side,
        type="LIQUIDATION",
        orig_type="LIQUIDATION",
        time_in_force="IOC",
        qty=abs(liq.qty),
        price=liq.price,
        stop_price=0.0,
        reduce_only=True,
        close_position=False,
        working_type="CONTRACT_PRICE",
        price_protect=False,
        time=at,
        update_time=at,
        status="FILLED",
        executed_qty=abs(liq.qty),
        cum_quote=abs(liq.qty) * liq.price,
        avg_price=liq.price,
    )
    account.add_order(order)
    before = account.wallet
    account.wallet += liq.wallet_change
    pos.realized += liq.realized_pnl
    pos.qty, pos.entry, pos.update_time = 0.0, 0.0, at
    account.update_time = at
    exchange.insurance_fund += liq.fee - liq.shortfall
    trade = Trade(next(exchange._trade_ids), order.order_id, order.symbol, side, liq.price, abs(liq.qty),
                  liq.fee, liq.realized_pnl, False, at)  # fmt: skip
    account.trades.append(trade)
    exchange._income(account, market.symbol, "REALIZED_PNL", liq.realized_pnl, at, trade.trade_id)
    exchange._income(account, market.symbol, "INSURANCE_CLEAR", -liq.fee, at, trade.trade_id)
    event = order_update_event(
        order, at, "CALCULATED", abs(liq.qty), liq.price, liq.fee, liq.realized_pnl, trade.trade_id
    )
    exchange.on_user_event(account.user, event)
    exchange.push_account(account, "ORDER", account.wallet - before, [market.symbol], at)


def _settle_funding(
    exchange: LocalExchange, account: Account, market: SymbolMarket, bar: int, at: int
) -> None:
    pos = account.position(market.symbol)
    payment = funding_payment(market.values, bar, pos.qty)
    if payment is None:
        return
    account.wallet += payment
    account.update_time = at
    exchange._income(account, market.symbol, "FUNDING_FEE", payment, at)
    exchange.push_account(account, "FUNDING_FEE", payment, [], at)


def _margin_call(exchange: LocalExchange, account: Account, market: SymbolMarket, bar: int, at: int) -> None:
    pos = account.position(market.symbol)
    mark = float(market.values[bar, Market.VALUE_CLOSE])
    maintenance = maintenance_margin(abs(pos.qty) * mark, market.brackets)
    balance = margin_wallet(exchange, account, market.symbol, at) + pos.qty * (mark - pos.entry)
    if balance <= 0.0 or maintenance >= MARGIN_CALL_RATIO * balance:
        exchange.on_user_event(
            account.user, margin_call_event(account, at, market.symbol, pos, mark, maintenance)
        )
