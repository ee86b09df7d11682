"""Hybrid adaptive strategy: trend following in trending regimes, grid trading in ranging ones."""

from __future__ import annotations

import numpy as np

from agents.config import HybridConfig
from agents.policy import ActionMapping, FloatArray
from agents.rules.base import PriceSeries, RuleAgent
from agents.rules.grid import GridTrader
from agents.rules.kernels import market_regime
from agents.rules.vol_trend import VolTrend
from asterrl.features.kernels.trend import dmi
from asterrl.features.kernels.volatility import realized_volatility


class HybridAdaptive(RuleAgent):
    """Switches between ``VolTrend`` and ``GridTrader`` on ADX and short/long volatility (see
    ``HybridConfig``).

    Each leg trades only inside its own regime and starts flat when that regime begins: the trend leg
    enters on a fresh breakout (a close beyond its entry channel on a trending bar), never adopting a
    position its breakout rule opened while the market was ranging; the grid leg trades only the lines
    crossed after the range began. Leaving a regime closes its leg.
    """

    def __init__(self, config: HybridConfig | None = None, mapping: ActionMapping | None = None) -> None:
        super().__init__(mapping)
        self.config = (config or HybridConfig()).validate()
        self.name = self.config.name
        self.regime: FloatArray = np.zeros(0)

    def regimes(self, series: PriceSeries) -> FloatArray:
        """Regime per bar: 1 trending, 0 ranging, -1 flat (see ``market_regime``)."""
        c = self.config
        adx = dmi(series.high, series.low, series.close, c.adx_period)[2]
        short = realized_volatility(series.close, c.vol_short)
        long = realized_volatility(series.close, c.vol_long)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(long > 0.0, short / long, np.nan)
        regime: FloatArray = market_regime(adx, ratio, c.adx_trend, c.adx_range, c.vol_ratio_max)
        return regime

    def decision_series(self, series: PriceSeries) -> dict[str, FloatArray]:
        """``target`` (the active leg's), ``regime``, and each leg's targets."""
        c = self.config
        regime = self.regimes(series)
        trend = VolTrend(c.trend, self.mapping).leg(series, regime == 1.0)
        grid = GridTrader(c.grid, self.mapping).leg(series, regime == 0.0, fresh_start=True)
        # The legs are flat outside their regimes, so the sum is the active leg's target.
        return {"target": trend + grid, "regime": regime, "trend_leg": trend, "grid_leg": grid}

    def compute_targets(self, series: PriceSeries) -> FloatArray:
        decided = self.decision_series(series)
        self.regime = decided["regime"]
        return decided["target"]
