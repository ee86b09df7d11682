"""The perp market model: fills, fees, slippage, funding, margin, liquidation and exchange filters.

One implementation (numba kernels over plain arrays) serves the environments, the backtester, the local
exchange simulator and paper trading. ``Instrument`` holds a symbol's trading rules, ``MarketArrays``
prepares the per-bar arrays, ``asterrl.sim.account.advance_account`` steps one account one bar and
``asterrl.sim.simulator.PerpSimulator`` wraps it for Python callers. This package module imports only the
light pieces (configs, the instrument, the array layout), so that ``asterrl.risk`` can use them.
"""

from asterrl.sim.config import CostConfig, LimitOrderConfig, MarketModelConfig
from asterrl.sim.instrument import Instrument, MarginTier
from asterrl.sim.market_arrays import MarketArrays

__all__ = [
    "CostConfig",
    "Instrument",
    "LimitOrderConfig",
    "MarginTier",
    "MarketArrays",
    "MarketModelConfig",
]
