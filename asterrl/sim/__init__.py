"""The perp market model: fills, fees, slippage, funding, margin, liquidation and exchange filters.

One implementation (numba kernels over plain arrays) serves the environments, the backtester, the local
exchange simulator and paper trading. ``MarketData`` prepares the arrays, ``advance_account`` steps one
account one bar, ``PerpSimulator`` wraps it for Python callers.
"""

from asterrl.sim.account import advance_account, new_state, open_account
from asterrl.sim.config import CostConfig, ExchangeFilters, MarginBracket, MarginConfig, MarketModelConfig
from asterrl.sim.market_data import MarketData
from asterrl.sim.simulator import PerpSimulator

__all__ = [
    "CostConfig",
    "ExchangeFilters",
    "MarginBracket",
    "MarginConfig",
    "MarketData",
    "MarketModelConfig",
    "PerpSimulator",
    "advance_account",
    "new_state",
    "open_account",
]
