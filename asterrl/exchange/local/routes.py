"""The route table of the local exchange: path and method -> handler, request weight and security type.

Security types follow the venue (reference §4, §7): ``NONE`` (public), ``USER_STREAM`` (V1: API key
header; V3: signed), ``USER_DATA`` and ``TRADE`` (signed). Handlers take a :class:`Call` (parameters,
authenticated user, server clock) and return the JSON body; an ``ApiError`` becomes the error answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from asterrl.exchange.local.api import Params

#: Market-data paths served under every prefix (``/api/v3`` mirrors Binance spot for the backup feed).
FUTURES_PREFIXES = ("/fapi/v1", "/fapi/v3")


@dataclass(frozen=True, slots=True)
class Call:
    """One authenticated request as a handler sees it."""

    params: Params
    user: str | None
    now: int
    version: str


Handler = Callable[[Call], Any]
Weight = Callable[[Params], int]


def one(params: Params) -> int:
    return 1


def fixed(weight: int) -> Weight:
    return lambda params: weight


def kline_weight(params: Params) -> int:
    """Weight of klines by ``limit``: 1 (<100), 2 (<500), 5 (<=1000), 10 (more) (reference §7)."""
    try:
        limit = int(params.get("limit") or "500")
    except ValueError:
        return 1
    return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10


def depth_weight(params: Params) -> int:
    """Weight of depth by ``limit``: 2 (5-50), 5 (100), 10 (500), 20 (1000)."""
    try:
        limit = int(params.get("limit") or "500")
    except ValueError:
        return 2
    return 2 if limit <= 50 else 5 if limit <= 100 else 10 if limit <= 500 else 20


@dataclass(frozen=True, slots=True)
class Route:
    """One endpoint: what answers it, what it weighs, who may call it, and whether it places orders."""

    handler: Handler
    weight: Weight
    security: str = "NONE"
    counts_orders: int = 0


class RouteTable:
    """Routes by (method, path)."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Route] = {}
        self.paths: set[str] = set()

    def add(self, method: str, paths: list[str] | str, route: Route) -> None:
        for path in [paths] if isinstance(paths, str) else paths:
            self.routes[(method, path)] = route
            self.paths.add(path)

    def both(self, method: str, name: str, route: Route) -> None:
        """``name`` under ``/fapi/v1`` and ``/fapi/v3``."""
        self.add(method, [f"{prefix}/{name}" for prefix in FUTURES_PREFIXES], route)

    def get(self, method: str, path: str) -> Route | None:
        return self.routes.get((method, path))
