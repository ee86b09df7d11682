"""A local stand-in for Aster's futures API, served over real HTTP on 127.0.0.1 (market data for now)."""

from asterrl.exchange.simulator.clock import ManualClock
from asterrl.exchange.simulator.market_data import ApiError, MarketDataBook, SymbolSpec
from asterrl.exchange.simulator.server import Fault, LocalAsterServer, RequestRecord

__all__ = [
    "ApiError",
    "Fault",
    "LocalAsterServer",
    "ManualClock",
    "MarketDataBook",
    "RequestRecord",
    "SymbolSpec",
]
