"""Typed errors of the Aster client: every failure is one line carrying Aster's code where there is one.

The message names the endpoint, the code's name and the venue's text; it never holds a parameter string,
a key or a signature (those only travel inside the request). ``error_from_response`` picks the class from
the HTTP status and the body's code, so callers catch what they can act on::

    try:
        await client.new_order(...)
    except OrderRejected as exc:      # the exchange said no (filters, margin, reduce-only, ...)
        log.warning("%s", exc)        # "aster POST /fapi/v3/order: -4164 MIN_NOTIONAL: Order's notional ..."
"""

from __future__ import annotations

from asterrl.errors import AsterRLError
from asterrl.exchange.codes import Code, code_name


class ExchangeError(AsterRLError):
    """An exchange call failed.

    :param message: the one-line description.
    :param code: Aster's error code, when the exchange (or the client's own check) gave one.
    :param status: the HTTP status, when there was an answer.
    """

    def __init__(self, message: str, *, code: int | None = None, status: int | None = None) -> None:
        super().__init__(" ".join(message.split()))
        self.code = code
        self.status = status


class ExchangeRejected(ExchangeError):
    """The exchange answered with an error body; the request had no effect."""


class BadRequest(ExchangeRejected):
    """A malformed or invalid parameter (-11xx) or an unknown symbol."""


class AuthRejected(ExchangeRejected):
    """Not authorised: bad signature, unknown or unauthorised key or signer (-1002, -1022, -2014, -2015)."""


class ClockRejected(ExchangeRejected):
    """Timestamp outside the receive window (-1021) or a stale/reused nonce (-4225)."""


class OrderRejected(ExchangeRejected):
    """The order (or cancel, leverage change) was refused by a trading rule: filters, margin, reduce-only."""


class NoSuchOrder(ExchangeRejected):
    """The order asked for does not exist (-2013) or is no longer open (-2011)."""


class ListenKeyInvalid(ExchangeRejected):
    """The listen key does not exist or has expired (-1125)."""


class RateLimited(ExchangeError):
    """HTTP 429 (rate limit) or 418 (IP banned) that outlasted the client's retry budget.

    :param retry_after_s: the server's ``Retry-After`` in seconds, if it sent one.
    """

    def __init__(
        self, message: str, *, code: int | None, status: int, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message, code=code, status=status)
        self.retry_after_s = retry_after_s


class ExchangeUnavailable(ExchangeError):
    """The exchange was unreachable, or kept answering 5xx or dropping connections past every retry."""


class UnknownOrderStatus(ExchangeError):
    """An order's outcome is unknown (503, timeout, dropped answer) and querying its client order id could not
    settle it either: the order may or may not exist. Reconcile before sending anything for it again."""

    def __init__(self, message: str, *, client_order_id: str, status: int | None = None) -> None:
        super().__init__(message, status=status)
        self.client_order_id = client_order_id


class OrderRefused(ExchangeError):
    """The client refused to send a request that the exchange would reject (checked against the symbol's
    filters before sending). ``code`` is the code the exchange would have answered with."""


_AUTH = {Code.UNAUTHORIZED, Code.INVALID_SIGNATURE, Code.BAD_API_KEY_FMT, Code.REJECTED_MBX_KEY}
_CLOCK = {Code.INVALID_TIMESTAMP, Code.NONCE_EXPIRED}
_NO_ORDER = {Code.NO_SUCH_ORDER, Code.CANCEL_REJECTED}


def describe(code: int | None, msg: str) -> str:
    """``"-4164 MIN_NOTIONAL: Order's notional ..."`` (the venue text on one line, at most 200 characters)."""
    text = " ".join(msg.split())[:200]
    return f"{code} {code_name(code)}: {text}" if code is not None else text


def error_from_response(
    where: str, status: int, code: int | None, msg: str, retry_after_s: float | None = None
) -> ExchangeError:
    """The typed error for an error answer to ``where`` (``"aster POST /fapi/v3/order"``)."""
    line = (
        f"{where}: HTTP {status}, {describe(code, msg)}"
        if code is None
        else f"{where}: {describe(code, msg)}"
    )
    if status in (418, 429):
        return RateLimited(line, code=code, status=status, retry_after_s=retry_after_s)
    if status >= 500 or code is None:
        return ExchangeUnavailable(line, code=code, status=status)
    if code in _AUTH:
        return AuthRejected(line, code=code, status=status)
    if code in _CLOCK:
        return ClockRejected(line, code=code, status=status)
    if code in _NO_ORDER:
        return NoSuchOrder(line, code=code, status=status)
    if code == Code.INVALID_LISTEN_KEY:
        return ListenKeyInvalid(line, code=code, status=status)
    if code <= -2000:
        return OrderRejected(line, code=code, status=status)
    return BadRequest(line, code=code, status=status)
