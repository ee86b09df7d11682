"""DeMark exhaustion: fade completed TD Sequential setups (9) and countdowns (13)."""

from __future__ import annotations

import numpy as np

from agents.config import DemarkConfig
from agents.policy import ActionMapping, FloatArray
from agents.rules.base import PriceSeries, RuleAgent
from agents.rules.kernels import exhaustion_targets
from asterrl.features.kernels.demark import td_sequential
from asterrl.features.kernels.volatility import atr


class DemarkExhaustion(RuleAgent):
    """Long after a buy exhaustion signal, short after a sell one, with a time stop and an ATR stop."""

    def __init__(self, config: DemarkConfig | None = None, mapping: ActionMapping | None = None) -> None:
        super().__init__(mapping)
        self.config = (config or DemarkConfig()).validate()
        self.name = self.config.name

    def signals(self, series: PriceSeries) -> tuple[np.ndarray, np.ndarray]:
        """Boolean buy and sell signals per bar from TD Sequential."""
        c = self.config
        buy_setup, sell_setup, perfection, buy_cd, sell_cd = td_sequential(
            series.high, series.low, series.close
        )[:5]
        buy = np.zeros(series.close.shape[0], dtype=np.bool_)
        sell = np.zeros_like(buy)
        if c.use_setup:
            buy |= (buy_setup == 9.0) & ((not c.require_perfection) | (perfection == 1.0))
            sell |= (sell_setup == 9.0) & ((not c.require_perfection) | (perfection == -1.0))
        if c.use_countdown:
            buy |= buy_cd == 13.0
            sell |= sell_cd == 13.0
        both = buy & sell
        return buy & ~both, sell & ~both

    def compute_targets(self, series: PriceSeries) -> FloatArray:
        c = self.config
        buy, sell = self.signals(series)
        stop = c.stop_atr * atr(series.high, series.low, series.close, c.atr_period)
        return exhaustion_targets(series.close, buy, sell, stop, c.hold_bars, c.fraction, c.allow_short)
