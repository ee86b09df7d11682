"""Hybrid adaptive strategy: trend following in trending regimes, grid trading in ranging ones."""

from __future__ import annotations

import numpy as np

from agents.config import HybridConfig
from agents.policy import ActionMapping, FloatArray
from agents.rules.base import PriceSeries, RuleAgent
from agents.rules.grid import GridTrader
from agents.rules.kernels import regime_switch
from agents.rules.vol_trend import VolTrend
from asterrl.features.kernels.trend import dmi
from asterrl.features.kernels.volatility import realized_volatility


class HybridAdaptive(RuleAgent):
    """Switches between ``VolTrend`` and ``GridTrader`` on ADX and short/long volatility (see
    ``HybridConfig``)."""

    def __init__(self, config: HybridConfig | None = None, mapping: ActionMapping | None = None) -> None:
        super().__init__(mapping)
        self.config = (config or HybridConfig()).validate()
        self.name = self.config.name
        self.regime: FloatArray = np.zeros(0)

    def compute_targets(self, series: PriceSeries) -> FloatArray:
        c = self.config
        trend = VolTrend(c.trend, self.mapping).compute_targets(series)
        grid = GridTrader(c.grid, self.mapping).compute_targets(series)
        adx = dmi(series.high, series.low, series.close, c.adx_period)[2]
        short = realized_volatility(series.close, c.vol_short)
        long = realized_volatility(series.close, c.vol_long)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(long > 0.0, short / long, np.nan)
        self.regime, targets = regime_switch(
            adx, ratio, trend, grid, c.adx_trend, c.adx_range, c.vol_ratio_max
        )
        return targets
