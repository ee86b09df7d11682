"""Signed account endpoints of the local exchange (reference §7, §11, §12): account, balance, positions,
income, user trades, leverage brackets and changes, margin type, position mode, commission, listen keys."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from asterrl.exchange.codes import Code
from asterrl.exchange.filters import check_leverage
from asterrl.exchange.local.api import ApiError, fmt
from asterrl.exchange.local.routes import FUTURES_PREFIXES, Call, Route, RouteTable, fixed
from asterrl.exchange.local.settlement import margin_wallet
from asterrl.exchange.local.views import balance_json, income_json, position_risk_json, trade_json
from asterrl.sim.kernels import liquidation_price, maintenance_margin

if TYPE_CHECKING:
    from asterrl.exchange.local.server import LocalAsterServer

INCOME_TYPES = ("TRANSFER", "REALIZED_PNL", "FUNDING_FEE", "COMMISSION", "INSURANCE_CLEAR")


def _window(call: Call, rows: list[Any], time_of: Any, default: int, maximum: int) -> list[Any]:
    start, end = call.params.opt_int("startTime"), call.params.opt_int("endTime")
    limit = call.params.limit(default, maximum)
    picked = [
        r for r in rows if (start is None or time_of(r) >= start) and (end is None or time_of(r) <= end)
    ]
    return picked[:limit] if start is not None else picked[-limit:]


def register_account_routes(table: RouteTable, server: LocalAsterServer) -> None:
    """Add the signed account endpoints to ``table``."""
    exchange = server.exchange

    def positions(call: Call) -> Any:
        with exchange.lock:
            account = exchange.signed_in(call.user, call.now)
            symbol = call.params.get("symbol")
            markets = [exchange.market(symbol)] if symbol else list(exchange.markets.values())
            rows = []
            for market in markets:
                pos = account.position(market.symbol)
                mark = market.mark_price(market.bar_at(call.now))
                backing = margin_wallet(exchange, account, market.symbol, call.now)
                liq = liquidation_price(backing, pos.qty, pos.entry, market.brackets) if pos.qty else 0.0
                cap = _max_notional(market.brackets, pos.leverage)
                rows.append(
                    position_risk_json(market.symbol, pos, mark, liq if liq != float("inf") else 0.0, cap)
                )
            return rows

    def balance(call: Call) -> Any:
        with exchange.lock:
            account = exchange.signed_in(call.user, call.now)
            return [balance_json(account, exchange.unrealized(account), exchange.available_balance(account))]

    def account_info(call: Call) -> Any:
        with exchange.lock:
            account = exchange.signed_in(call.user, call.now)
            unrealized = exchange.unrealized(account)
            initial = exchange.initial_margin(account)
            maint = 0.0
            rows = []
            for market in exchange.markets.values():
                pos = account.position(market.symbol)
                mark = market.mark_price(market.bar_at(call.now))
                mm = maintenance_margin(abs(pos.qty) * mark, market.brackets)
                maint += mm
                rows.append({
                    "symbol": market.symbol, "initialMargin": fmt(abs(pos.qty) * mark / pos.leverage),
                    "maintMargin": fmt(mm), "unrealizedProfit": fmt(pos.qty * (mark - pos.entry)),
                    "positionInitialMargin": fmt(abs(pos.qty) * mark / pos.leverage),
                    "openOrderInitialMargin": "0",
                    "leverage": str(pos.leverage), "isolated": False, "entryPrice": fmt(pos.entry),
                    "maxNotional": fmt(_max_notional(market.brackets, pos.leverage)), "positionSide": "BOTH",
                    "positionAmt": fmt(pos.qty), "updateTime": pos.update_time,
                })  # fmt: skip
            available = account.wallet + unrealized - initial
            totals = {
                "feeTier": 0, "canTrade": True, "canDeposit": True, "canWithdraw": True,
                "updateTime": account.update_time, "totalInitialMargin": fmt(initial),
                "totalMaintMargin": fmt(maint), "totalWalletBalance": fmt(account.wallet),
                "totalUnrealizedProfit": fmt(unrealized),
                "totalMarginBalance": fmt(account.wallet + unrealized),
                "totalPositionInitialMargin": fmt(initial), "totalOpenOrderInitialMargin": "0",
                "totalCrossWalletBalance": fmt(account.wallet), "totalCrossUnPnl": fmt(unrealized),
                "availableBalance": fmt(available), "maxWithdrawAmount": fmt(max(available, 0.0)),
            }  # fmt: skip
            asset = {
                "asset": "USDT",
                "walletBalance": fmt(account.wallet),
                "unrealizedProfit": fmt(unrealized),
                "marginBalance": fmt(account.wallet + unrealized),
                "availableBalance": fmt(available),
            }
            return {**totals, "assets": [asset], "positions": rows}

    def income(call: Call) -> Any:
        with exchange.lock:
            account = exchange.signed_in(call.user, call.now)
            symbol, kind = call.params.get("symbol"), call.params.get("incomeType")
            if kind is not None and kind not in INCOME_TYPES:
                raise ApiError.of(Code.INVALID_PARAMETER, name="incomeType")
            rows = [
                i
                for i in account.income
                if (not symbol or i.symbol == symbol) and (not kind or i.income_type == kind)
            ]
            return [income_json(i) for i in _window(call, rows, lambda i: i.time, 100, 1000)]

    def user_trades(call: Call) -> Any:
        with exchange.lock:
            account = exchange.signed_in(call.user, call.now)
            symbol = exchange.market(call.params.get("symbol")).symbol
            from_id = call.params.opt_int("fromId")
            rows = [
                t for t in account.trades if t.symbol == symbol and (from_id is None or t.trade_id >= from_id)
            ]
            return [trade_json(t) for t in _window(call, rows, lambda t: t.time, 500, 1000)]

    def leverage(call: Call) -> Any:
        with exchange.lock:
            account = exchange.signed_in(call.user, call.now)
            market = exchange.market(call.params.get("symbol"))
            value = call.params.integer("leverage")
            if not 1 <= value <= 125 or value > market.instrument.max_leverage:
                raise ApiError.of(Code.INVALID_LEVERAGE, leverage=value)
            pos = account.position(market.symbol)
            notional = abs(pos.qty) * market.mark_price(market.bar_at(call.now))
            violation = check_leverage(market.brackets, notional, value)
            if violation is not None:
                raise ApiError(400, int(violation.code), violation.msg)
            account.leverage[market.symbol] = pos.leverage = value
            return {"leverage": value, "maxNotionalValue": fmt(_max_notional(market.brackets, value)),
                    "symbol": market.symbol}  # fmt: skip

    def margin_type(call: Call) -> Any:
        exchange.market(call.params.get("symbol"))
        kind = call.params.choice("marginType", ("ISOLATED", "CROSSED"))
        if kind == "CROSSED":
            raise ApiError.of(Code.NO_NEED_TO_CHANGE_MARGIN_TYPE)
        raise ApiError(
            400, int(Code.INVALID_PARAMETER), "Isolated margin is not offered by the local exchange."
        )

    def position_mode(call: Call) -> Any:
        if call.params.flag("dualSidePosition"):
            raise ApiError(
                400, int(Code.INVALID_PARAMETER), "Hedge mode is not offered by the local exchange."
            )
        raise ApiError.of(Code.NO_NEED_TO_CHANGE_POSITION_SIDE)

    def brackets(call: Call) -> Any:
        symbol = call.params.get("symbol")
        if symbol:
            return server.leverage_brackets(exchange.market(symbol).symbol)
        return [server.leverage_brackets(s) for s in exchange.markets]

    def commission(call: Call) -> Any:
        market = exchange.market(call.params.get("symbol"))
        costs = exchange.model.costs
        return {"symbol": market.symbol, "makerCommissionRate": fmt(costs.maker_fee),
                "takerCommissionRate": fmt(costs.taker_fee)}  # fmt: skip

    def listen_key_create(call: Call) -> Any:
        assert call.user is not None
        return {"listenKey": server.streams.keys.create(call.user, server.server_ms())}

    def listen_key_keep(call: Call) -> Any:
        assert call.user is not None
        server.streams.keys.keep_alive(call.user, server.server_ms())
        return {}

    def listen_key_close(call: Call) -> Any:
        assert call.user is not None
        server.streams.keys.close(call.user)
        return {}

    v3 = FUTURES_PREFIXES[1]
    table.add("GET", [f"{v3}/positionRisk", "/fapi/v2/positionRisk"], Route(positions, fixed(5), "USER_DATA"))
    table.add("GET", [f"{v3}/balance", "/fapi/v2/balance"], Route(balance, fixed(5), "USER_DATA"))
    accounts = [f"{v3}/accountWithJoinMargin", f"{v3}/account", "/fapi/v4/account", "/fapi/v2/account"]
    table.add("GET", accounts, Route(account_info, fixed(5), "USER_DATA"))
    table.both("GET", "income", Route(income, fixed(30), "USER_DATA"))
    table.both("GET", "userTrades", Route(user_trades, fixed(5), "USER_DATA"))
    table.both("POST", "leverage", Route(leverage, fixed(1), "TRADE"))
    table.both("POST", "marginType", Route(margin_type, fixed(1), "TRADE"))
    table.both("POST", "positionSide/dual", Route(position_mode, fixed(1), "TRADE"))
    table.both(
        "GET", "positionSide/dual", Route(lambda call: {"dualSidePosition": False}, fixed(30), "USER_DATA")
    )
    table.both("GET", "leverageBracket", Route(brackets, fixed(1), "USER_DATA"))
    table.both("GET", "commissionRate", Route(commission, fixed(20), "USER_DATA"))
    table.both("POST", "listenKey", Route(listen_key_create, fixed(1), "USER_STREAM"))
    table.both("PUT", "listenKey", Route(listen_key_keep, fixed(1), "USER_STREAM"))
    table.both("DELETE", "listenKey", Route(listen_key_close, fixed(1), "USER_STREAM"))


def _max_notional(brackets: Any, leverage: int) -> float:
    """Largest position notional (USDT) the bracket table allows at ``leverage``."""
    best = 0.0
    for floor, cap, _rate, _cum, max_lev in brackets.tolist():
        if max_lev >= leverage:
            best = max(best, cap if cap != float("inf") else floor)
    return best
