"""Deterministic client order ids: the run, the bar, the leg and the attempt, and nothing else.

A restart or a retry computes the same id for the same order, so the exchange (which refuses a second open
order with an id it holds) and the state store (which records every id before it is sent) can never let the
same order out twice. Aster accepts ``^[.A-Z:/a-z0-9_-]{1,36}$``; an id here is at most 30 characters::

    a<run:8 hex>-<bar open, base 36>-<leg>-<attempt>     e.g. a1f3c09e2-lpm4cg00-0-1

:func:`parse_client_order_id` reads one back (for reconciliation after a restart).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from asterrl.errors import ConfigError

#: Aster's rule for ``newClientOrderId``.
CLIENT_ORDER_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_OURS = re.compile(r"^a([0-9a-f]{8})-([0-9a-z]{1,12})-([0-9a-z]{1,3})-([0-9a-z]{1,3})$")


def run_tag(run_id: str) -> str:
    """8 hex characters naming a deployment run (sha256 of its id): every id of the run starts with it."""
    if not run_id:
        raise ConfigError("deploy.run_id must be a non-empty string")
    return hashlib.sha256(run_id.encode()).hexdigest()[:8]


def _base36(value: int) -> str:
    if value < 0:
        raise ConfigError(f"cannot encode negative {value} in a client order id")
    out = ""
    while True:
        value, digit = divmod(value, 36)
        out = _DIGITS[digit] + out
        if value == 0:
            return out


@dataclass(frozen=True, slots=True)
class OrderKey:
    """What identifies one order of a deployment.

    :param run: ``run_tag`` of the deployment.
    :param bar_ms: open time of the decision bar, ms UTC.
    :param leg: leg of the decision (0, 1, ...: a reducing leg, an opening leg, slices).
    :param attempt: re-price or re-send count of the leg (0 first).
    """

    run: str
    bar_ms: int
    leg: int
    attempt: int = 0

    def client_order_id(self) -> str:
        """The id sent as ``newClientOrderId``."""
        if not (0 <= self.leg < 36**3 and 0 <= self.attempt < 36**3):
            raise ConfigError(f"leg {self.leg} / attempt {self.attempt} out of range for a client order id")
        cid = f"a{self.run}-{_base36(self.bar_ms)}-{_base36(self.leg)}-{_base36(self.attempt)}"
        assert CLIENT_ORDER_ID.match(cid), cid
        return cid

    def next_attempt(self) -> OrderKey:
        """The same leg's next attempt (a re-price, or an IOC after the timeout)."""
        return OrderKey(self.run, self.bar_ms, self.leg, self.attempt + 1)


def parse_client_order_id(cid: str) -> OrderKey | None:
    """The key of an id made by :meth:`OrderKey.client_order_id`; ``None`` for anyone else's id."""
    match = _OURS.match(cid)
    if match is None:
        return None
    run, bar, leg, attempt = match.groups()
    return OrderKey(run, int(bar, 36), int(leg, 36), int(attempt, 36))
