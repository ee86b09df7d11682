"""The local Aster exchange: REST and WebSocket on 127.0.0.1, answering like Aster and trading through
``asterrl.sim``'s market model (see ``server.LocalAsterServer``)."""

from asterrl.exchange.local.api import ApiError
from asterrl.exchange.local.clock import ManualClock, ScaledClock
from asterrl.exchange.local.faults import Fault, FaultPlan
from asterrl.exchange.local.market_data import MarketDataBook, SymbolSpec
from asterrl.exchange.local.server import LocalAsterServer, RequestRecord

__all__ = [
    "ApiError",
    "Fault",
    "FaultPlan",
    "LocalAsterServer",
    "ManualClock",
    "MarketDataBook",
    "RequestRecord",
    "ScaledClock",
    "SymbolSpec",
]
