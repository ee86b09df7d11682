"""Moving-average crossover: the classic trend rule, and the strategy the backtest benchmarks run."""

from __future__ import annotations

from agents.config import SmaCrossConfig
from agents.policy import ActionMapping, FloatArray
from agents.rules.base import PriceSeries, RuleAgent
from agents.rules.kernels import crossover_targets
from asterrl.features.kernels.rolling import sma


class SmaCross(RuleAgent):
    """Long while the fast SMA of the close is above the slow one, short (or flat) below (see
    ``SmaCrossConfig``)."""

    def __init__(self, config: SmaCrossConfig | None = None, mapping: ActionMapping | None = None) -> None:
        super().__init__(mapping)
        self.config = (config or SmaCrossConfig()).validate()
        self.name = self.config.name

    def compute_targets(self, series: PriceSeries) -> FloatArray:
        c = self.config
        return crossover_targets(
            sma(series.close, c.fast), sma(series.close, c.slow), c.fraction, c.allow_short
        )
