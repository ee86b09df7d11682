"""The local exchange's state rendered as Aster's JSON: orders, positions, balances, trades, income and the
user-data stream's events (reference §8, §11, §12). Decimals are written as the shortest string that reads
back as the same float64, so a client's ``Decimal`` -> ``float`` gets the exchange's exact numbers."""

from __future__ import annotations

from typing import Any

from asterrl.exchange.local.api import fmt
from asterrl.exchange.local.ledger import Account, Income, Order, Position, Trade

ASSET = "USDT"


def order_json(order: Order) -> dict[str, Any]:
    """The order object shared by new, query, cancel, openOrders and allOrders."""
    return {
        "orderId": order.order_id,
        "symbol": order.symbol,
        "status": order.status,
        "clientOrderId": order.client_order_id,
        "price": fmt(order.price),
        "avgPrice": fmt(order.avg_price),
        "origQty": fmt(order.qty),
        "executedQty": fmt(order.executed_qty),
        "cumQty": fmt(order.executed_qty),
        "cumQuote": fmt(order.cum_quote),
        "timeInForce": order.time_in_force,
        "type": order.type,
        "reduceOnly": order.reduce_only,
        "closePosition": order.close_position,
        "side": order.side,
        "positionSide": "BOTH",
        "stopPrice": fmt(order.stop_price),
        "workingType": order.working_type,
        "priceProtect": order.price_protect,
        "origType": order.orig_type or order.type,
        "time": order.time,
        "updateTime": order.update_time,
    }


def position_risk_json(
    symbol: str, pos: Position, mark: float, liquidation: float, max_notional: float
) -> dict[str, Any]:
    """One ``positionRisk`` row (one-way mode, cross margin)."""
    return {
        "symbol": symbol,
        "positionAmt": fmt(pos.qty),
        "entryPrice": fmt(pos.entry),
        "markPrice": fmt(mark),
        "unRealizedProfit": fmt(pos.qty * (mark - pos.entry)),
        "liquidationPrice": fmt(liquidation),
        "leverage": str(pos.leverage),
        "maxNotionalValue": fmt(max_notional),
        "marginType": "cross",
        "isolatedMargin": "0",
        "isAutoAddMargin": "false",
        "positionSide": "BOTH",
        "notional": fmt(pos.qty * mark),
        "isolatedWallet": "0",
        "updateTime": pos.update_time,
    }


def balance_json(account: Account, unrealized: float, available: float) -> dict[str, Any]:
    """The USDT row of ``balance``."""
    return {
        "accountAlias": "local",
        "asset": ASSET,
        "balance": fmt(account.wallet),
        "crossWalletBalance": fmt(account.wallet),
        "crossUnPnl": fmt(unrealized),
        "availableBalance": fmt(available),
        "maxWithdrawAmount": fmt(max(available, 0.0)),
        "marginAvailable": True,
        "updateTime": account.update_time,
    }


def trade_json(trade: Trade) -> dict[str, Any]:
    """One ``userTrades`` row."""
    return {
        "symbol": trade.symbol,
        "id": trade.trade_id,
        "orderId": trade.order_id,
        "side": trade.side,
        "price": fmt(trade.price),
        "qty": fmt(trade.qty),
        "quoteQty": fmt(trade.price * trade.qty),
        "realizedPnl": fmt(trade.realized_pnl),
        "marginAsset": ASSET,
        "commission": fmt(trade.commission),
        "commissionAsset": ASSET,
        "time": trade.time,
        "positionSide": "BOTH",
        "buyer": trade.side == "BUY",
        "maker": trade.maker,
    }


def income_json(income: Income) -> dict[str, Any]:
    """One ``income`` row."""
    return {
        "symbol": income.symbol,
        "incomeType": income.income_type,
        "income": fmt(income.income),
        "asset": ASSET,
        "info": income.info,
        "time": income.time,
        "tranId": income.tran_id,
        "tradeId": "" if income.trade_id is None else str(income.trade_id),
    }


def order_update_event(
    order: Order,
    now: int,
    execution: str,
    last_qty: float = 0.0,
    last_price: float = 0.0,
    commission: float = 0.0,
    realized: float = 0.0,
    trade_id: int = 0,
    maker: bool = False,
) -> dict[str, Any]:
    """``ORDER_TRADE_UPDATE`` for an execution (NEW, TRADE, CANCELED, EXPIRED, CALCULATED)."""
    o: dict[str, Any] = {
        "s": order.symbol,
        "c": order.client_order_id,
        "S": order.side,
        "o": order.type,
        "f": order.time_in_force,
        "q": fmt(order.qty),
        "p": fmt(order.price),
        "ap": fmt(order.avg_price),
        "sp": fmt(order.stop_price),
        "x": execution,
        "X": order.status,
        "i": order.order_id,
        "l": fmt(last_qty),
        "z": fmt(order.executed_qty),
        "L": fmt(last_price),
        "T": now,
        "t": trade_id,
        "b": "0",
        "a": "0",
        "m": maker,
        "R": order.reduce_only,
        "wt": order.working_type,
        "ot": order.orig_type or order.type,
        "ps": "BOTH",
        "cp": order.close_position,
        "rp": fmt(realized),
    }
    if commission:
        o["N"], o["n"] = ASSET, fmt(commission)
    return {"e": "ORDER_TRADE_UPDATE", "E": now, "T": now, "o": o}


def account_update_event(
    account: Account, now: int, reason: str, change: float, positions: dict[str, tuple[Position, float]]
) -> dict[str, Any]:
    """``ACCOUNT_UPDATE``: the wallet and the given positions (symbol -> (position, mark))."""
    rows = [
        {
            "s": symbol,
            "pa": fmt(pos.qty),
            "ep": fmt(pos.entry),
            "cr": fmt(pos.realized),
            "up": fmt(pos.qty * (mark - pos.entry)),
            "mt": "cross",
            "iw": "0",
            "ps": "BOTH",
        }
        for symbol, (pos, mark) in positions.items()
    ]
    balance = {"a": ASSET, "wb": fmt(account.wallet), "cw": fmt(account.wallet), "bc": fmt(change)}
    return {"e": "ACCOUNT_UPDATE", "E": now, "T": now, "a": {"m": reason, "B": [balance], "P": rows}}


def margin_call_event(
    account: Account, now: int, symbol: str, pos: Position, mark: float, maintenance: float
) -> dict[str, Any]:
    """``MARGIN_CALL`` for one position close to liquidation."""
    row = {
        "s": symbol,
        "ps": "BOTH",
        "pa": fmt(pos.qty),
        "mt": "CROSSED",
        "iw": "0",
        "mp": fmt(mark),
        "up": fmt(pos.qty * (mark - pos.entry)),
        "mm": fmt(maintenance),
    }
    return {"e": "MARGIN_CALL", "E": now, "cw": fmt(account.wallet), "p": [row]}
