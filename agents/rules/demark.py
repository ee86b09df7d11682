"""DeMark exhaustion: fade completed TD setups (9), TD Sequential countdowns (13) and TD Combo countdowns
(13)."""

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
        """Boolean buy and sell signals per bar from TD Sequential and TD Combo (both on a bar: neither)."""
        c = self.config
        buy_setup, sell_setup, perfection, buy_cd, sell_cd, _, _, buy_combo, sell_combo = td_sequential(
            series.high, series.low, series.close
        )
        buy = np.zeros(series.close.shape[0], dtype=np.bool_)
        sell = np.zeros_like(buy)
        if c.use_setup:
            # Perfection is reported on the bar that achieves it: bar 9 or a later one.
            buy |= perfection == 1.0 if c.require_perfection else buy_setup == 9.0
            sell |= perfection == -1.0 if c.require_perfection else sell_setup == 9.0
        if c.use_countdown:
            buy |= buy_cd == 13.0
            sell |= sell_cd == 13.0
        if c.use_combo:
            buy |= buy_combo == 13.0
            sell |= sell_combo == 13.0
        both = buy & sell
        return buy & ~both, sell & ~both

    def decision_series(self, series: PriceSeries) -> dict[str, FloatArray]:
        """``target`` and the ``buy_signal`` / ``sell_signal`` it fades (1.0 on signal bars)."""
        buy, sell = self.signals(series)
        return {
            "target": self.compute_targets(series),
            "buy_signal": buy.astype(np.float64),
            "sell_signal": sell.astype(np.float64),
        }

    def compute_targets(self, series: PriceSeries) -> FloatArray:
        c = self.config
        buy, sell = self.signals(series)
        stop = c.stop_atr * atr(series.high, series.low, series.close, c.atr_period)
        return exhaustion_targets(series.close, buy, sell, stop, c.hold_bars, c.fraction, c.allow_short)
