"""Typed requests and results of the Aster client; prices, quantities and money as exact ``Decimal``.

The exchange writes decimals as strings (and sometimes a number where another sample has a string,
reference §3); :func:`dec` reads both without a float round trip, so ``Decimal("0.1")`` stays exact.
Results are frozen dataclasses built from the JSON with ``from_json``; fields keep Aster's meaning with the
trader's names and units (USDT, base asset, ms UTC).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

ORDER_TYPES = ("LIMIT", "MARKET", "STOP_MARKET", "TAKE_PROFIT_MARKET")
SIDES = ("BUY", "SELL")
TIME_IN_FORCE = ("GTC", "IOC", "FOK", "GTX")
WORKING_TYPES = ("CONTRACT_PRICE", "MARK_PRICE")


def dec(value: Any) -> Decimal:
    """An exchange decimal (string, int or float) as ``Decimal``; ``""``/``None`` as 0."""
    if value is None or value == "":
        return Decimal(0)
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value))


def wire(value: Decimal) -> str:
    """A decimal as the exchange expects it: positional, no exponent, no trailing zeros (``"0.001"``)."""
    text = format(value.normalize(), "f")
    return text


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A new order (``POST /fapi/v3/order``, reference §8).

    :param symbol: e.g. ``BTCUSDT``.
    :param side: ``BUY`` or ``SELL``.
    :param type: ``LIMIT``, ``MARKET``, ``STOP_MARKET`` or ``TAKE_PROFIT_MARKET``.
    :param quantity: base asset; ``None`` only with ``close_position``.
    :param price: limit price, USDT (LIMIT only).
    :param stop_price: trigger price, USDT (STOP_MARKET / TAKE_PROFIT_MARKET).
    :param time_in_force: ``GTC``, ``IOC``, ``FOK`` or ``GTX`` (post-only); LIMIT only.
    :param reduce_only: the order may only shrink the position.
    :param close_position: a stop that closes the whole position when it fires.
    :param client_order_id: ``newClientOrderId``: makes the order idempotent (``^[.A-Z:/a-z0-9_-]{1,36}$``).
    :param working_type: price a stop watches: ``CONTRACT_PRICE`` (last) or ``MARK_PRICE``.
    """

    symbol: str
    side: str
    type: str
    quantity: Decimal | None = None
    price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: str | None = None
    reduce_only: bool = False
    close_position: bool = False
    client_order_id: str | None = None
    working_type: str | None = None

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell."""
        return 1 if self.side == "BUY" else -1

    def params(self) -> list[tuple[str, str]]:
        """The request parameters in Aster's order, values as sent on the wire."""
        out = [("symbol", self.symbol), ("side", self.side), ("type", self.type)]
        if self.time_in_force is not None:
            out.append(("timeInForce", self.time_in_force))
        if self.quantity is not None:
            out.append(("quantity", wire(self.quantity)))
        if self.price is not None:
            out.append(("price", wire(self.price)))
        if self.stop_price is not None:
            out.append(("stopPrice", wire(self.stop_price)))
        if self.reduce_only:
            out.append(("reduceOnly", "true"))
        if self.close_position:
            out.append(("closePosition", "true"))
        if self.working_type is not None:
            out.append(("workingType", self.working_type))
        if self.client_order_id is not None:
            out.append(("newClientOrderId", self.client_order_id))
        return out


@dataclass(frozen=True, slots=True)
class Order:
    """An order as the exchange reports it (new, query, cancel, open orders, all orders)."""

    order_id: int
    client_order_id: str
    symbol: str
    status: str
    side: str
    type: str
    time_in_force: str
    price: Decimal
    avg_price: Decimal
    orig_qty: Decimal
    executed_qty: Decimal
    cum_quote: Decimal
    stop_price: Decimal
    reduce_only: bool
    close_position: bool
    update_time: int

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Order:
        return cls(
            order_id=int(raw["orderId"]),
            client_order_id=str(raw.get("clientOrderId", "")),
            symbol=str(raw["symbol"]),
            status=str(raw["status"]),
            side=str(raw["side"]),
            type=str(raw["type"]),
            time_in_force=str(raw.get("timeInForce", "")),
            price=dec(raw.get("price")),
            avg_price=dec(raw.get("avgPrice")),
            orig_qty=dec(raw.get("origQty")),
            executed_qty=dec(raw.get("executedQty")),
            cum_quote=dec(raw.get("cumQuote")),
            stop_price=dec(raw.get("stopPrice")),
            reduce_only=bool(raw.get("reduceOnly", False)),
            close_position=bool(raw.get("closePosition", False)),
            update_time=int(raw.get("updateTime", raw.get("time", 0))),
        )

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED")


@dataclass(frozen=True, slots=True)
class Position:
    """One ``positionRisk`` row: signed amount (base asset), entry and mark (USDT), unrealised PnL (USDT)."""

    symbol: str
    amount: Decimal
    entry_price: Decimal
    mark_price: Decimal
    unrealized_pnl: Decimal
    liquidation_price: Decimal
    leverage: int
    margin_type: str

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Position:
        return cls(
            symbol=str(raw["symbol"]),
            amount=dec(raw.get("positionAmt")),
            entry_price=dec(raw.get("entryPrice")),
            mark_price=dec(raw.get("markPrice")),
            unrealized_pnl=dec(raw.get("unRealizedProfit")),
            liquidation_price=dec(raw.get("liquidationPrice")),
            leverage=int(raw.get("leverage", 0)),
            margin_type=str(raw.get("marginType", "cross")),
        )


@dataclass(frozen=True, slots=True)
class Balance:
    """One ``balance`` row (USDT): wallet balance, cross unrealised PnL, available for new margin."""

    asset: str
    wallet_balance: Decimal
    cross_unrealized_pnl: Decimal
    available_balance: Decimal
    update_time: int

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Balance:
        return cls(
            asset=str(raw["asset"]),
            wallet_balance=dec(raw.get("balance")),
            cross_unrealized_pnl=dec(raw.get("crossUnPnl")),
            available_balance=dec(raw.get("availableBalance")),
            update_time=int(raw.get("updateTime", 0)),
        )


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """Account totals (USDT) and its positions (``accountWithJoinMargin`` / ``v4/account``)."""

    total_wallet_balance: Decimal
    total_unrealized_pnl: Decimal
    total_margin_balance: Decimal
    total_initial_margin: Decimal
    total_maint_margin: Decimal
    available_balance: Decimal
    positions: tuple[Mapping[str, Any], ...]

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> AccountInfo:
        return cls(
            total_wallet_balance=dec(raw.get("totalWalletBalance")),
            total_unrealized_pnl=dec(raw.get("totalUnrealizedProfit")),
            total_margin_balance=dec(raw.get("totalMarginBalance")),
            total_initial_margin=dec(raw.get("totalInitialMargin")),
            total_maint_margin=dec(raw.get("totalMaintMargin")),
            available_balance=dec(raw.get("availableBalance")),
            positions=tuple(raw.get("positions", ())),
        )


@dataclass(frozen=True, slots=True)
class Trade:
    """One ``userTrades`` fill: price (USDT), quantity (base), commission and realised PnL (USDT)."""

    trade_id: int
    order_id: int
    symbol: str
    side: str
    price: Decimal
    qty: Decimal
    commission: Decimal
    realized_pnl: Decimal
    maker: bool
    time: int

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Trade:
        return cls(
            trade_id=int(raw["id"]),
            order_id=int(raw["orderId"]),
            symbol=str(raw["symbol"]),
            side=str(raw["side"]),
            price=dec(raw.get("price")),
            qty=dec(raw.get("qty")),
            commission=dec(raw.get("commission")),
            realized_pnl=dec(raw.get("realizedPnl")),
            maker=bool(raw.get("maker", False)),
            time=int(raw.get("time", 0)),
        )


@dataclass(frozen=True, slots=True)
class Income:
    """One ``income`` row: REALIZED_PNL, COMMISSION, FUNDING_FEE, INSURANCE_CLEAR, TRANSFER (USDT)."""

    symbol: str
    income_type: str
    income: Decimal
    time: int
    tran_id: int

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Income:
        return cls(
            symbol=str(raw.get("symbol", "")),
            income_type=str(raw["incomeType"]),
            income=dec(raw.get("income")),
            time=int(raw.get("time", 0)),
            tran_id=int(raw.get("tranId", 0)),
        )


@dataclass(frozen=True, slots=True)
class BookTicker:
    """Best bid and ask (USDT) with their quantities (base asset)."""

    symbol: str
    bid_price: Decimal
    bid_qty: Decimal
    ask_price: Decimal
    ask_qty: Decimal
    time: int

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> BookTicker:
        return cls(
            symbol=str(raw["symbol"]),
            bid_price=dec(raw.get("bidPrice")),
            bid_qty=dec(raw.get("bidQty")),
            ask_price=dec(raw.get("askPrice")),
            ask_qty=dec(raw.get("askQty")),
            time=int(raw.get("time", 0)),
        )


@dataclass(frozen=True, slots=True)
class PremiumIndex:
    """Mark and index price (USDT), last funding rate and next funding time (ms UTC)."""

    symbol: str
    mark_price: Decimal
    index_price: Decimal
    last_funding_rate: Decimal
    next_funding_time: int
    time: int

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> PremiumIndex:
        return cls(
            symbol=str(raw["symbol"]),
            mark_price=dec(raw.get("markPrice")),
            index_price=dec(raw.get("indexPrice")),
            last_funding_rate=dec(raw.get("lastFundingRate")),
            next_funding_time=int(raw.get("nextFundingTime", 0)),
            time=int(raw.get("time", 0)),
        )


@dataclass(frozen=True, slots=True)
class DepthSnapshot:
    """An order-book snapshot: levels (price, qty) best first and the update id it reflects."""

    last_update_id: int
    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> DepthSnapshot:
        return cls(
            last_update_id=int(raw["lastUpdateId"]),
            bids=tuple((dec(p), dec(q)) for p, q in raw.get("bids", ())),
            asks=tuple((dec(p), dec(q)) for p, q in raw.get("asks", ())),
        )
