"""Client-side request-weight and order-count budgets, kept from Aster's response headers (reference §5).

Aster reports the IP's used weight in ``X-MBX-USED-WEIGHT-<n><unit>`` and the account's order count in
``X-MBX-ORDER-COUNT-<n><unit>``. :class:`RateLimits` takes the one-minute figures from every response and
counts its own requests in between, and ``acquire`` waits for the next minute (of the server's clock)
before a request that would cross ``budget_fraction`` of a limit, so the server never has to say no. A 429
or 418 sets a block until its ``Retry-After``, which every caller then waits out.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Awaitable, Callable, Mapping

from asterrl.errors import ConfigError

_HEADER = re.compile(r"^x-mbx-(used-weight|order-count)-(\d+)([smhd])$", re.IGNORECASE)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class RateLimits:
    """Used weight and order count per minute, and the wait before the next request.

    :param weight_limit: ``REQUEST_WEIGHT`` per minute (2400 on Aster).
    :param order_limit: ``ORDERS`` per minute (1200 on Aster).
    :param budget_fraction: share of each limit this client lets itself use.
    :param clock_s: the server's clock in seconds (the client's offset-corrected clock).
    :param sleep: async sleep (injectable for tests).
    """

    def __init__(
        self,
        weight_limit: int = 2400,
        order_limit: int = 1200,
        budget_fraction: float = 0.9,
        clock_s: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if weight_limit <= 0 or order_limit <= 0 or not 0.0 < budget_fraction <= 1.0:
            raise ConfigError("rate limits: limits must be > 0 and budget_fraction in (0, 1]")
        self.weight_budget = max(1, math.floor(weight_limit * budget_fraction))
        self.order_budget = max(1, math.floor(order_limit * budget_fraction))
        self._clock = clock_s
        self._sleep = sleep
        self._minute = -1
        self.used_weight = 0
        self.order_count = 0
        self._blocked_until = 0.0
        #: Seconds spent waiting for a budget or a ban.
        self.waited_s = 0.0

    def _roll(self, now: float) -> None:
        minute = math.floor(now / 60.0)
        if minute != self._minute:
            self._minute, self.used_weight, self.order_count = minute, 0, 0

    async def acquire(self, weight: int, orders: int = 0) -> None:
        """Count a request of ``weight`` placing ``orders``, first waiting out a block or the minute."""
        while True:
            now = self._clock()
            if now < self._blocked_until:
                await self._wait(self._blocked_until - now)
                continue
            self._roll(now)
            over_weight = self.used_weight > 0 and self.used_weight + weight > self.weight_budget
            over_orders = (
                orders > 0 and self.order_count > 0 and self.order_count + orders > self.order_budget
            )
            if not (over_weight or over_orders):
                break
            await self._wait((self._minute + 1) * 60.0 - now + 0.05)
        self.used_weight += weight
        self.order_count += orders

    def observe(self, headers: Mapping[str, str]) -> None:
        """Take the minute's used weight and order count from a response's headers."""
        now = self._clock()
        self._roll(now)
        for name, value in headers.items():
            match = _HEADER.match(name)
            if match is None or int(match.group(2)) * _UNIT_S[match.group(3).lower()] != 60:
                continue
            try:
                count = int(value)
            except ValueError:
                continue
            if match.group(1).lower() == "used-weight":
                self.used_weight = count
            else:
                self.order_count = count

    def block(self, seconds: float) -> None:
        """Hold every request back for ``seconds`` (a 429's or 418's ``Retry-After``)."""
        self._blocked_until = max(self._blocked_until, self._clock() + seconds)

    async def _wait(self, seconds: float) -> None:
        self.waited_s += seconds
        await self._sleep(seconds)
