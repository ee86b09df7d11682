"""Aster's error codes (reference §6): the client names them, the local exchange sends them.

Each :class:`Code` carries the message text the venue sends (Binance-USDⓈ-M wording, which Aster copies);
``{…}`` fields are filled per request. The code is what clients should act on; the text can vary.
"""

from __future__ import annotations

from enum import IntEnum


class Code(IntEnum):
    """Error codes the client maps to typed errors and the local exchange answers with."""

    UNKNOWN = -1000
    DISCONNECTED = -1001
    UNAUTHORIZED = -1002
    TOO_MANY_REQUESTS = -1003
    TOO_MANY_ORDERS = -1015
    INVALID_TIMESTAMP = -1021
    INVALID_SIGNATURE = -1022
    START_AFTER_END = -1023
    ILLEGAL_CHARS = -1100
    MANDATORY_PARAM_EMPTY_OR_MALFORMED = -1102
    BAD_PRECISION = -1111
    INVALID_TIME_IN_FORCE = -1115
    INVALID_ORDER_TYPE = -1116
    INVALID_SIDE = -1117
    INVALID_INTERVAL = -1120
    BAD_SYMBOL = -1121
    INVALID_LISTEN_KEY = -1125
    INVALID_PARAMETER = -1130
    NEW_ORDER_REJECTED = -2010
    CANCEL_REJECTED = -2011
    NO_SUCH_ORDER = -2013
    BAD_API_KEY_FMT = -2014
    REJECTED_MBX_KEY = -2015
    BALANCE_NOT_SUFFICIENT = -2018
    MARGIN_NOT_SUFFICIENT = -2019
    ORDER_WOULD_IMMEDIATELY_TRIGGER = -2021
    REDUCE_ONLY_REJECT = -2022
    MAX_OPEN_ORDER_EXCEEDED = -2025
    MAX_LEVERAGE_RATIO = -2027
    INVALID_ORDER_STATUS = -4000
    PRICE_LESS_THAN_ZERO = -4001
    PRICE_GREATER_THAN_MAX_PRICE = -4002
    QTY_LESS_THAN_ZERO = -4003
    QTY_LESS_THAN_MIN_QTY = -4004
    QTY_GREATER_THAN_MAX_QTY = -4005
    PRICE_LESS_THAN_MIN_PRICE = -4013
    PRICE_NOT_INCREASED_BY_TICK_SIZE = -4014
    INVALID_CL_ORD_ID_LEN = -4015
    PRICE_HIGHER_THAN_MULTIPLIER_UP = -4016
    QTY_NOT_INCREASED_BY_STEP_SIZE = -4023
    PRICE_LOWER_THAN_MULTIPLIER_DOWN = -4024
    INVALID_LEVERAGE = -4028
    NO_NEED_TO_CHANGE_MARGIN_TYPE = -4046
    NO_NEED_TO_CHANGE_POSITION_SIDE = -4059
    POSITION_SIDE_NOT_MATCH = -4061
    MARKET_ORDER_REJECT = -4131
    MIN_NOTIONAL = -4164
    NONCE_EXPIRED = -4225
    DUPLICATE_CLIENT_ORDER_ID = -4116
    GTX_ORDER_REJECT = -5022


#: The venue's message per code; ``{…}`` fields are filled with ``str.format``.
MESSAGES: dict[Code, str] = {
    Code.UNKNOWN: "An unknown error occurred while processing the request.",
    Code.DISCONNECTED: "Internal error; unable to process your request. Please try again.",
    Code.UNAUTHORIZED: "You are not authorized to execute this request.",
    Code.TOO_MANY_REQUESTS: "Too many requests; current limit is {limit} request weight per 1 MINUTE.",
    Code.TOO_MANY_ORDERS: "Too many new orders; current limit is {limit} orders per 1 MINUTE.",
    Code.INVALID_TIMESTAMP: "Timestamp for this request is outside of the recvWindow.",
    Code.INVALID_SIGNATURE: "Signature for this request is not valid.",
    Code.START_AFTER_END: "Start time is greater than end time.",
    Code.ILLEGAL_CHARS: "Illegal characters found in parameter '{name}'; legal range is '{pattern}'.",
    Code.MANDATORY_PARAM_EMPTY_OR_MALFORMED: (
        "Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    ),
    Code.BAD_PRECISION: "Precision is over the maximum defined for this asset.",
    Code.INVALID_TIME_IN_FORCE: "Invalid timeInForce.",
    Code.INVALID_ORDER_TYPE: "Invalid orderType.",
    Code.INVALID_SIDE: "Invalid side.",
    Code.INVALID_INTERVAL: "Invalid interval.",
    Code.BAD_SYMBOL: "Invalid symbol.",
    Code.INVALID_LISTEN_KEY: "This listenKey does not exist.",
    Code.INVALID_PARAMETER: "Data sent for parameter '{name}' is not valid.",
    Code.NEW_ORDER_REJECTED: "Order rejected: {reason}",
    Code.CANCEL_REJECTED: "Unknown order sent.",
    Code.NO_SUCH_ORDER: "Order does not exist.",
    Code.BAD_API_KEY_FMT: "API-key format invalid.",
    Code.REJECTED_MBX_KEY: "Invalid API-key, IP, or permissions for action.",
    Code.BALANCE_NOT_SUFFICIENT: "Balance is insufficient.",
    Code.MARGIN_NOT_SUFFICIENT: "Margin is insufficient.",
    Code.ORDER_WOULD_IMMEDIATELY_TRIGGER: "Order would immediately trigger.",
    Code.REDUCE_ONLY_REJECT: "ReduceOnly Order is rejected.",
    Code.MAX_OPEN_ORDER_EXCEEDED: "Reach max open order limit.",
    Code.MAX_LEVERAGE_RATIO: "Exceeded the maximum allowable position at current leverage.",
    Code.INVALID_ORDER_STATUS: "Invalid order status.",
    Code.PRICE_LESS_THAN_ZERO: "Price less than or equal to zero.",
    Code.PRICE_GREATER_THAN_MAX_PRICE: "Price greater than max price {max_price}.",
    Code.QTY_LESS_THAN_ZERO: "Quantity less than or equal to zero.",
    Code.QTY_LESS_THAN_MIN_QTY: "Quantity less than min quantity {min_qty}.",
    Code.QTY_GREATER_THAN_MAX_QTY: "Quantity greater than max quantity {max_qty}.",
    Code.PRICE_LESS_THAN_MIN_PRICE: "Price less than min price {min_price}.",
    Code.PRICE_NOT_INCREASED_BY_TICK_SIZE: "Price not increased by tick size {tick_size}.",
    Code.INVALID_CL_ORD_ID_LEN: "Client order id length should not be more than 36 chars",
    Code.PRICE_HIGHER_THAN_MULTIPLIER_UP: "Price higher than multiplier up {limit}.",
    Code.QTY_NOT_INCREASED_BY_STEP_SIZE: "Quantity not increased by step size {step_size}.",
    Code.PRICE_LOWER_THAN_MULTIPLIER_DOWN: "Price lower than multiplier down {limit}.",
    Code.INVALID_LEVERAGE: "Leverage {leverage} is not valid",
    Code.NO_NEED_TO_CHANGE_MARGIN_TYPE: "No need to change margin type.",
    Code.NO_NEED_TO_CHANGE_POSITION_SIDE: "No need to change position side.",
    Code.POSITION_SIDE_NOT_MATCH: "Order's position side does not match user's setting.",
    Code.MARKET_ORDER_REJECT: "The counterparty's best price does not meet the PERCENT_PRICE filter limit.",
    Code.MIN_NOTIONAL: (
        "Order's notional must be no smaller than {min_notional} (unless you choose reduce only)."
    ),
    Code.NONCE_EXPIRED: "Nonce Expired",
    Code.DUPLICATE_CLIENT_ORDER_ID: "clientOrderId is duplicated.",
    Code.GTX_ORDER_REJECT: (
        "Due to the order could not be executed as maker, the Post Only order will be rejected."
    ),
}


def message(code: Code, **fields: object) -> str:
    """The venue's message for ``code`` with its fields filled in."""
    return MESSAGES[code].format(**fields)


def code_name(code: int) -> str:
    """``"MIN_NOTIONAL"`` for -4164; ``"CODE_-9999"`` for a code this table does not know."""
    try:
        return Code(code).name
    except ValueError:
        return f"CODE_{code}"
