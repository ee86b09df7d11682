"""Request-weight and order-rate limits of the local exchange, per minute of its clock (reference §5).

Weight counts every request (refused ones too) per IP — one loopback IP here. Past ``weight_limit`` a
request gets 429/-1003 with ``Retry-After`` to the next minute; a client that keeps going past ``ban_after``
refusals in the minute is banned for ``ban_s`` with 418. Orders count per account; past ``order_limit``
an order gets 429/-1015.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from asterrl.exchange.codes import Code, message
from asterrl.exchange.local.api import ApiError


@dataclass
class _Window:
    minute: int = -1
    used: int = 0


class RequestLimits:
    """Per-minute counters and the ban.

    :param weight_limit: ``REQUEST_WEIGHT`` per minute.
    :param order_limit: ``ORDERS`` per minute per account.
    :param ban_after: refused requests in one minute after which the IP is banned.
    :param ban_s: length of a ban, seconds.
    """

    def __init__(
        self, weight_limit: int = 2400, order_limit: int = 1200, ban_after: int = 20, ban_s: int = 120
    ):
        self.weight_limit = weight_limit
        self.order_limit = order_limit
        self.ban_after = ban_after
        self.ban_s = ban_s
        self._lock = threading.Lock()
        self._weight = _Window()
        self._refused = _Window()
        self._orders: dict[str, _Window] = {}
        self._banned_until = 0

    def used_weight(self, now: int) -> int:
        with self._lock:
            return self._weight.used if self._weight.minute == now // 60_000 else 0

    def charge(self, now: int, weight: int) -> int:
        """Count a request of ``weight``; return the minute's used weight or raise 429/418."""
        minute = now // 60_000
        with self._lock:
            if now < self._banned_until:
                until = self._banned_until
                raise ApiError(
                    418, int(Code.TOO_MANY_REQUESTS), f"Way too many requests; IP banned until {until}.",
                    {"Retry-After": str(max(1, -(-(until - now) // 1000)))},
                )  # fmt: skip
            _roll(self._weight, minute)
            self._weight.used += weight
            used = self._weight.used
            if used <= self.weight_limit:
                return used
            _roll(self._refused, minute)
            self._refused.used += 1
            if self._refused.used > self.ban_after:
                self._banned_until = now + self.ban_s * 1000
            retry = 60 - (now // 1000) % 60
            raise ApiError(
                429, int(Code.TOO_MANY_REQUESTS), message(Code.TOO_MANY_REQUESTS, limit=self.weight_limit),
                {"Retry-After": str(retry), "X-MBX-USED-WEIGHT-1M": str(used)},
            )  # fmt: skip

    def charge_order(self, now: int, user: str) -> int:
        """Count one order for ``user``; return the minute's count or raise 429/-1015."""
        minute = now // 60_000
        with self._lock:
            window = self._orders.setdefault(user, _Window())
            _roll(window, minute)
            window.used += 1
            if window.used > self.order_limit:
                retry = 60 - (now // 1000) % 60
                raise ApiError(
                    429, int(Code.TOO_MANY_ORDERS), message(Code.TOO_MANY_ORDERS, limit=self.order_limit),
                    {"Retry-After": str(retry), "X-MBX-ORDER-COUNT-1M": str(window.used)},
                )  # fmt: skip
            return window.used


def _roll(window: _Window, minute: int) -> None:
    if window.minute != minute:
        window.minute, window.used = minute, 0
