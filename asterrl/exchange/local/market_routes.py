"""Public market-data endpoints of the local exchange (reference §7, §9): time, exchangeInfo, klines, mark
klines, funding history, depth, book ticker, last price and premium index."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from asterrl.exchange.codes import Code
from asterrl.exchange.local.api import ApiError, fmt
from asterrl.exchange.local.routes import Call, Route, RouteTable, depth_weight, fixed, kline_weight, one

if TYPE_CHECKING:
    from asterrl.exchange.local.server import LocalAsterServer

DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)


def register_market_routes(table: RouteTable, server: LocalAsterServer) -> None:
    """Add every public endpoint to ``table``."""
    book, exchange = server.book, server.exchange

    def klines(call: Call) -> Any:
        return book.klines(call.params.values, call.now)

    def mark_klines(call: Call) -> Any:
        return book.klines(call.params.values, call.now, mark=True)

    def funding(call: Call) -> Any:
        return book.funding_rate(call.params.values, call.now)

    def exchange_info(call: Call) -> Any:
        return book.exchange_info(server.server_ms(), server.limits.weight_limit)

    def server_time(call: Call) -> Any:
        return {"serverTime": server.server_ms()}

    def depth(call: Call) -> Any:
        limit = call.params.opt_int("limit") or 500
        if limit not in DEPTH_LIMITS:
            raise ApiError.of(Code.INVALID_PARAMETER, name="limit")
        with exchange.lock:
            market = exchange.market(call.params.get("symbol"))
            bar = market.bar_at(call.now)
            bids, asks = market.book(bar, min(limit, 20))
            update_id = market.book_update_id
        return {
            "lastUpdateId": update_id,
            "E": call.now,
            "T": call.now,
            "bids": [[fmt(p), fmt(q)] for p, q in bids],
            "asks": [[fmt(p), fmt(q)] for p, q in asks],
        }

    def _each(call: Call, row: Any) -> Any:
        symbol = call.params.get("symbol")
        with exchange.lock:
            if symbol:
                return row(exchange.market(symbol))
            return [row(m) for m in exchange.markets.values()]

    def book_ticker(call: Call) -> Any:
        def row(market: Any) -> dict[str, Any]:
            bar = market.bar_at(call.now)
            (bid, bid_qty), (ask, ask_qty) = (side[0] for side in market.book(bar, 1))
            return {
                "symbol": market.symbol,
                "bidPrice": fmt(bid),
                "bidQty": fmt(bid_qty),
                "askPrice": fmt(ask),
                "askQty": fmt(ask_qty),
                "time": call.now,
                "lastUpdateId": market.book_update_id,
            }

        return _each(call, row)

    def ticker_price(call: Call) -> Any:
        def row(market: Any) -> dict[str, Any]:
            return {
                "symbol": market.symbol,
                "price": fmt(market.last_price(market.bar_at(call.now))),
                "time": call.now,
            }

        return _each(call, row)

    def premium_index(call: Call) -> Any:
        def row(market: Any) -> dict[str, Any]:
            bar = market.bar_at(call.now)
            return {
                "symbol": market.symbol,
                "markPrice": fmt(market.mark_price(bar)),
                "indexPrice": fmt(market.last_price(bar)),
                "estimatedSettlePrice": fmt(market.mark_price(bar)),
                "lastFundingRate": fmt(market.last_funding_rate(bar)),
                "interestRate": "0.0001",
                "nextFundingTime": market.next_funding_time(call.now),
                "time": call.now,
            }

        return _each(call, row)

    table.both("GET", "klines", Route(klines, kline_weight))
    table.both("GET", "markPriceKlines", Route(mark_klines, kline_weight))
    table.both("GET", "fundingRate", Route(funding, one))
    table.both("GET", "exchangeInfo", Route(exchange_info, one))
    table.both("GET", "time", Route(server_time, one))
    table.both("GET", "ping", Route(lambda call: {}, one))
    table.both("GET", "depth", Route(depth, depth_weight))
    table.both("GET", "ticker/bookTicker", Route(book_ticker, lambda p: 1 if p.get("symbol") else 2))
    table.both("GET", "ticker/price", Route(ticker_price, lambda p: 1 if p.get("symbol") else 2))
    table.both("GET", "premiumIndex", Route(premium_index, fixed(1)))
    table.add("GET", "/api/v3/klines", Route(klines, kline_weight))
    table.add("GET", "/api/v3/time", Route(server_time, one))
    table.add("GET", "/api/v3/exchangeInfo", Route(exchange_info, one))
