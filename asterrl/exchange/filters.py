"""The order rules of a symbol (reference §8, §10), checked by the client before sending and by the local
exchange on receipt — one implementation, so both refuse the same order with the same Aster code.

:func:`check_order` returns the first rule an order breaks as a :class:`Violation` (its code and message),
or ``None``. Grid checks run in exact decimal arithmetic on the values as sent: ``(qty - minQty) % step``
and ``(price - minPrice) % tick`` must be zero. A market order is valued at the mark price for the
minimum notional; PERCENT_PRICE bounds a limit price to the mark's band. Both need the mark; without one
(a client that has not read it) those two rules are left to the exchange.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from asterrl.exchange.codes import Code, message
from asterrl.exchange.models import ORDER_TYPES, SIDES, TIME_IN_FORCE, WORKING_TYPES, OrderRequest, wire
from asterrl.sim.instrument import Instrument
from asterrl.sim.kernels import bracket_max_leverage

FloatArray = npt.NDArray[np.float64]

#: ``newClientOrderId`` pattern (reference §8).
CLIENT_ORDER_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
STOP_TYPES = ("STOP_MARKET", "TAKE_PROFIT_MARKET")


@dataclass(frozen=True, slots=True)
class Violation:
    """A rule an order breaks: Aster's code and message."""

    code: Code
    msg: str

    @classmethod
    def of(cls, code: Code, **fields: object) -> Violation:
        return cls(code, message(code, **fields))


def _d(value: float) -> Decimal:
    return Decimal(repr(float(value)))


def check_shape(req: OrderRequest) -> Violation | None:
    """Enumerated values and the parameters each order type requires (reference §8)."""
    if req.side not in SIDES:
        return Violation.of(Code.INVALID_SIDE)
    if req.type not in ORDER_TYPES:
        return Violation.of(Code.INVALID_ORDER_TYPE)
    if req.working_type is not None and req.working_type not in WORKING_TYPES:
        return Violation.of(Code.INVALID_PARAMETER, name="workingType")
    if req.client_order_id is not None:
        if len(req.client_order_id) > 36:
            return Violation.of(Code.INVALID_CL_ORD_ID_LEN)
        if not CLIENT_ORDER_ID.match(req.client_order_id):
            return Violation.of(Code.ILLEGAL_CHARS, name="newClientOrderId", pattern=CLIENT_ORDER_ID.pattern)
    if req.type == "LIMIT":
        for name, value in (
            ("timeInForce", req.time_in_force),
            ("quantity", req.quantity),
            ("price", req.price),
        ):
            if value is None:
                return Violation.of(Code.MANDATORY_PARAM_EMPTY_OR_MALFORMED, name=name)
        if req.time_in_force not in TIME_IN_FORCE:
            return Violation.of(Code.INVALID_TIME_IN_FORCE)
    elif req.type == "MARKET":
        if req.quantity is None:
            return Violation.of(Code.MANDATORY_PARAM_EMPTY_OR_MALFORMED, name="quantity")
        if req.price is not None:
            return Violation.of(Code.INVALID_PARAMETER, name="price")
    else:
        if req.stop_price is None:
            return Violation.of(Code.MANDATORY_PARAM_EMPTY_OR_MALFORMED, name="stopPrice")
        if req.close_position and (req.quantity is not None or req.reduce_only):
            return Violation.of(Code.INVALID_PARAMETER, name="closePosition")
        if not req.close_position and req.quantity is None:
            return Violation.of(Code.MANDATORY_PARAM_EMPTY_OR_MALFORMED, name="quantity")
    if req.close_position and req.type not in STOP_TYPES:
        return Violation.of(Code.INVALID_PARAMETER, name="closePosition")
    if req.time_in_force is not None and req.type != "LIMIT" and req.time_in_force not in TIME_IN_FORCE:
        return Violation.of(Code.INVALID_TIME_IN_FORCE)
    return None


def check_filters(inst: Instrument, req: OrderRequest, mark: float | None) -> Violation | None:
    """PRICE_FILTER, LOT_SIZE / MARKET_LOT_SIZE, MIN_NOTIONAL (unless reduce-only) and PERCENT_PRICE."""
    market = req.type != "LIMIT"
    if req.quantity is not None:
        violation = _check_qty(inst, req.quantity, market)
        if violation is not None:
            return violation
    for price in (req.price, req.stop_price):
        if price is not None:
            violation = _check_price(inst, price)
            if violation is not None:
                return violation
    if req.quantity is not None and not req.reduce_only:
        at = req.price if req.type == "LIMIT" else (_d(mark) if mark is not None else None)
        if at is not None and req.quantity * at < _d(inst.min_notional):
            return Violation.of(Code.MIN_NOTIONAL, min_notional=wire(_d(inst.min_notional)))
    band = inst.percent_price
    if req.type == "LIMIT" and req.price is not None and band is not None and mark is not None:
        if req.side == "BUY" and req.price > _d(mark) * _d(band.multiplier_up):
            limit = wire((_d(mark) * _d(band.multiplier_up)).quantize(_d(inst.tick_size)))
            return Violation.of(Code.PRICE_HIGHER_THAN_MULTIPLIER_UP, limit=limit)
        if req.side == "SELL" and req.price < _d(mark) * _d(band.multiplier_down):
            limit = wire((_d(mark) * _d(band.multiplier_down)).quantize(_d(inst.tick_size)))
            return Violation.of(Code.PRICE_LOWER_THAN_MULTIPLIER_DOWN, limit=limit)
    return None


def _places(value: Decimal) -> int:
    """Decimal places of ``value`` as written (trailing zeros ignored)."""
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _check_qty(inst: Instrument, qty: Decimal, market: bool) -> Violation | None:
    step = _d(inst.market_step_size if market else inst.step_size)
    low = _d(inst.market_min_qty if market else inst.min_qty)
    high = inst.market_max_qty if market else inst.max_qty
    if qty <= 0:
        return Violation.of(Code.QTY_LESS_THAN_ZERO)
    if _places(qty) > inst.quantity_precision:
        return Violation.of(Code.BAD_PRECISION)
    if qty < low:
        return Violation.of(Code.QTY_LESS_THAN_MIN_QTY, min_qty=wire(low))
    if qty > _d(high):
        return Violation.of(Code.QTY_GREATER_THAN_MAX_QTY, max_qty=wire(_d(high)))
    if (qty - low) % step != 0:
        return Violation.of(Code.QTY_NOT_INCREASED_BY_STEP_SIZE, step_size=wire(step))
    return None


def _check_price(inst: Instrument, price: Decimal) -> Violation | None:
    low, tick = _d(inst.min_price), _d(inst.tick_size)
    if price <= 0:
        return Violation.of(Code.PRICE_LESS_THAN_ZERO)
    if _places(price) > inst.price_precision:
        return Violation.of(Code.BAD_PRECISION)
    if price < low:
        return Violation.of(Code.PRICE_LESS_THAN_MIN_PRICE, min_price=wire(low))
    if math.isfinite(inst.max_price) and price > _d(inst.max_price):
        return Violation.of(Code.PRICE_GREATER_THAN_MAX_PRICE, max_price=wire(_d(inst.max_price)))
    if (price - low) % tick != 0:
        return Violation.of(Code.PRICE_NOT_INCREASED_BY_TICK_SIZE, tick_size=wire(tick))
    return None


def check_leverage(brackets: FloatArray, position_notional: float, leverage: float) -> Violation | None:
    """MAX_LEVERAGE_RATIO (-2027): the position's notional (USDT) must lie in a bracket whose maximum
    leverage is at least the account's leverage setting for the symbol.

    :param brackets: the symbol's ``Instrument.bracket_table()``.
    """
    if position_notional <= 0.0:
        return None
    if bracket_max_leverage(position_notional, brackets) < leverage:
        return Violation.of(Code.MAX_LEVERAGE_RATIO)
    return None
