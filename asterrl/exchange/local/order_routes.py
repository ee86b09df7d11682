"""Signed order endpoints of the local exchange (reference §7, §8): new, query, cancel, cancel all, batch
orders, open orders and all orders."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from asterrl.exchange.codes import Code
from asterrl.exchange.local.api import ApiError, Params
from asterrl.exchange.local.routes import Call, Route, RouteTable, fixed
from asterrl.exchange.local.views import order_json
from asterrl.exchange.models import OrderRequest

if TYPE_CHECKING:
    from asterrl.exchange.local.server import LocalAsterServer

#: Orders one ``batchOrders`` call may carry.
BATCH_MAX = 5


def order_request(params: Params) -> OrderRequest:
    """The order a request's parameters describe (values checked later by ``filters.check_*``)."""
    position_side = params.get("positionSide", "BOTH")
    if position_side != "BOTH":
        raise ApiError.of(Code.POSITION_SIDE_NOT_MATCH)
    return OrderRequest(
        symbol=params.text("symbol"),
        side=params.text("side"),
        type=params.text("type"),
        quantity=params.opt_decimal("quantity"),
        price=params.opt_decimal("price"),
        stop_price=params.opt_decimal("stopPrice"),
        time_in_force=params.get("timeInForce"),
        reduce_only=params.flag("reduceOnly"),
        close_position=params.flag("closePosition"),
        client_order_id=params.get("newClientOrderId"),
        working_type=params.get("workingType"),
    )


def _json_list(params: Params, name: str, maximum: int) -> list[Any]:
    """A JSON list parameter; the official demos' single-quoted form is accepted too."""
    text = params.text(name)
    try:
        value = json.loads(text)
    except ValueError:
        try:
            value = json.loads(text.replace("'", '"'))
        except ValueError:
            raise ApiError.of(Code.INVALID_PARAMETER, name=name) from None
    if not isinstance(value, list) or not 1 <= len(value) <= maximum:
        raise ApiError.of(Code.INVALID_PARAMETER, name=name)
    return value


def register_order_routes(table: RouteTable, server: LocalAsterServer) -> None:
    """Add the order endpoints to ``table``."""
    exchange = server.exchange

    def new_order(call: Call) -> Any:
        assert call.user is not None
        result = call.params.choice("newOrderRespType", ("ACK", "RESULT"), "ACK") == "RESULT"
        return exchange.new_order(call.user, order_request(call.params), result)

    def _id(params: Params, id_name: str, client_name: str) -> tuple[int | None, str | None]:
        order_id, client_id = params.opt_int(id_name), params.get(client_name)
        if order_id is None and client_id is None:
            raise ApiError.of(Code.MANDATORY_PARAM_EMPTY_OR_MALFORMED, name=f"{id_name}' or '{client_name}")
        return order_id, client_id

    def query_order(call: Call, open_only: bool = False) -> Any:
        with exchange.lock:
            account = exchange.signed_in(call.user, call.now)
            symbol = exchange.market(call.params.get("symbol")).symbol
            order = account.find(symbol, *_id(call.params, "orderId", "origClientOrderId"))
            if order is None or (open_only and not order.is_open):
                raise ApiError.of(Code.NO_SUCH_ORDER)
            return order_json(order)

    def cancel_order(call: Call) -> Any:
        assert call.user is not None
        order_id, client_id = _id(call.params, "orderId", "origClientOrderId")
        return exchange.cancel(call.user, call.params.text("symbol"), order_id, client_id)

    def cancel_all(call: Call) -> Any:
        assert call.user is not None
        exchange.cancel_all(call.user, call.params.text("symbol"))
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    def open_orders(call: Call) -> Any:
        with exchange.lock:
            account = exchange.signed_in(call.user, call.now)
            symbol = call.params.get("symbol")
            if symbol:
                exchange.market(symbol)
            return [order_json(o) for o in account.open_orders.values() if not symbol or o.symbol == symbol]

    def all_orders(call: Call) -> Any:
        with exchange.lock:
            account = exchange.signed_in(call.user, call.now)
            symbol = exchange.market(call.params.get("symbol")).symbol
            start_id = call.params.opt_int("orderId")
            rows = [
                o
                for o in account.orders.values()
                if o.symbol == symbol and (start_id is None or o.order_id >= start_id)
            ]
            start, end = call.params.opt_int("startTime"), call.params.opt_int("endTime")
            rows = [o for o in rows if (start is None or o.time >= start) and (end is None or o.time <= end)]
            limit = call.params.limit(500, 1000)
            return [
                order_json(o)
                for o in (rows[:limit] if start is not None or start_id is not None else rows[-limit:])
            ]

    def batch_orders(call: Call) -> Any:
        assert call.user is not None
        out: list[Any] = []
        for item in _json_list(call.params, "batchOrders", BATCH_MAX):
            try:
                if not isinstance(item, dict):
                    raise ApiError.of(Code.INVALID_PARAMETER, name="batchOrders")
                params = Params(
                    {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in item.items()}
                )
                result = params.choice("newOrderRespType", ("ACK", "RESULT"), "ACK") == "RESULT"
                out.append(exchange.new_order(call.user, order_request(params), result))
            except ApiError as err:
                out.append(err.body())
        return out

    def cancel_batch(call: Call) -> Any:
        assert call.user is not None
        symbol = call.params.text("symbol")
        targets: list[tuple[int | None, str | None]]
        if call.params.get("orderIdList"):
            targets = [(int(i), None) for i in _json_list(call.params, "orderIdList", 10)]
        else:
            targets = [(None, str(c)) for c in _json_list(call.params, "origClientOrderIdList", 10)]
        out: list[Any] = []
        for order_id, client_id in targets:
            try:
                out.append(exchange.cancel(call.user, symbol, order_id, client_id))
            except ApiError as err:
                out.append(err.body())
        return out

    table.both("POST", "order", Route(new_order, fixed(1), "TRADE", counts_orders=1))
    table.both("GET", "order", Route(query_order, fixed(1), "USER_DATA"))
    table.both(
        "GET", "openOrder", Route(lambda call: query_order(call, open_only=True), fixed(1), "USER_DATA")
    )
    table.both("DELETE", "order", Route(cancel_order, fixed(1), "TRADE"))
    table.both("DELETE", "allOpenOrders", Route(cancel_all, fixed(1), "TRADE"))
    table.both("GET", "openOrders", Route(open_orders, lambda p: 1 if p.get("symbol") else 40, "USER_DATA"))
    table.both("GET", "allOrders", Route(all_orders, fixed(5), "USER_DATA"))
    table.both("POST", "batchOrders", Route(batch_orders, fixed(5), "TRADE", counts_orders=BATCH_MAX))
    table.both("DELETE", "batchOrders", Route(cancel_batch, fixed(1), "TRADE"))
