"""What the local exchange remembers per user: wallet, positions, orders, trades and income.

Plain dataclasses; the engine (``engine.py``) changes them and ``payloads.py`` renders them as Aster's JSON.
Quantities are base asset (positions signed: + long, - short), prices and money USDT, times ms UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Order statuses that end an order's life.
FINAL_STATUSES = frozenset({"FILLED", "CANCELED", "EXPIRED", "REJECTED"})


@dataclass
class Order:
    """One order as the exchange holds it (reference §8)."""

    order_id: int
    client_order_id: str
    user: str
    symbol: str
    side: str
    type: str
    time_in_force: str
    qty: float
    price: float
    stop_price: float
    reduce_only: bool
    close_position: bool
    working_type: str
    price_protect: bool
    time: int
    update_time: int
    orig_type: str = ""
    status: str = "NEW"
    executed_qty: float = 0.0
    cum_quote: float = 0.0
    #: Set once a stop order's trigger price was reached (it then works as a market order).
    triggered: bool = False
    #: Volume-weighted fill price, USDT (exactly the fill price after one fill).
    avg_price: float = 0.0

    @property
    def sign(self) -> float:
        """+1 for a buy, -1 for a sell."""
        return 1.0 if self.side == "BUY" else -1.0

    @property
    def remaining(self) -> float:
        return max(self.qty - self.executed_qty, 0.0)

    @property
    def is_open(self) -> bool:
        return self.status not in FINAL_STATUSES


@dataclass
class Position:
    """A one-way position in one symbol."""

    qty: float = 0.0
    entry: float = 0.0
    leverage: int = 20
    update_time: int = 0
    #: Realised PnL of this position so far (before fees), USDT (``cr`` of ACCOUNT_UPDATE).
    realized: float = 0.0


@dataclass(frozen=True, slots=True)
class Trade:
    """One fill of one order (``userTrades``)."""

    trade_id: int
    order_id: int
    symbol: str
    side: str
    price: float
    qty: float
    commission: float
    realized_pnl: float
    maker: bool
    time: int


@dataclass(frozen=True, slots=True)
class Income:
    """One wallet change (``income``): REALIZED_PNL, COMMISSION, FUNDING_FEE, INSURANCE_CLEAR, TRANSFER."""

    tran_id: int
    symbol: str
    income_type: str
    income: float
    time: int
    trade_id: int | None = None
    info: str = ""


@dataclass
class Account:
    """One user's futures account (cross margin, one-way mode, USDT).

    :param user: the user's main wallet address (V3) or the API key's owner name (V1).
    :param wallet: wallet balance, USDT.
    """

    user: str
    wallet: float
    positions: dict[str, Position] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    open_orders: dict[int, Order] = field(default_factory=dict)
    trades: list[Trade] = field(default_factory=list)
    income: list[Income] = field(default_factory=list)
    leverage: dict[str, int] = field(default_factory=dict)
    #: Newest order id per (symbol, client order id).
    client_ids: dict[tuple[str, str], int] = field(default_factory=dict)
    update_time: int = 0

    def add_order(self, order: Order) -> None:
        self.orders[order.order_id] = order
        self.client_ids[(order.symbol, order.client_order_id)] = order.order_id
        if order.is_open:
            self.open_orders[order.order_id] = order

    def position(self, symbol: str) -> Position:
        """The symbol's position (created flat, at the account's leverage for the symbol)."""
        pos = self.positions.get(symbol)
        if pos is None:
            pos = self.positions[symbol] = Position(leverage=self.leverage.get(symbol, 20))
        return pos

    def find(self, symbol: str, order_id: int | None, client_order_id: str | None) -> Order | None:
        """An order of ``symbol`` by exchange id or client id (the newest with that client id)."""
        if order_id is not None:
            order = self.orders.get(order_id)
            return order if order is not None and order.symbol == symbol else None
        found = self.client_ids.get((symbol, client_order_id or ""))
        return self.orders.get(found) if found is not None else None
