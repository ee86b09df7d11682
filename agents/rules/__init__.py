"""Rule-based agents: grid, volatility-targeted trend, hybrid regime switch, DeMark exhaustion, moving-average
crossover, buy-and-hold."""

from agents.rules.base import PriceSeries, RuleAgent
from agents.rules.buy_and_hold import BuyAndHold
from agents.rules.demark import DemarkExhaustion
from agents.rules.grid import GridTrader
from agents.rules.hybrid import HybridAdaptive
from agents.rules.sma_cross import SmaCross
from agents.rules.vol_trend import VolTrend

__all__ = [
    "BuyAndHold",
    "DemarkExhaustion",
    "GridTrader",
    "HybridAdaptive",
    "PriceSeries",
    "RuleAgent",
    "SmaCross",
    "VolTrend",
]
