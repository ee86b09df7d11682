"""Grid trading with dynamic levels: lines around an EMA anchor, spaced by ATR."""

from __future__ import annotations

import numpy as np

from agents.config import GridConfig
from agents.policy import ActionMapping, BoolArray, FloatArray
from agents.rules.base import PriceSeries, RuleAgent
from agents.rules.kernels import grid_targets
from asterrl.features.kernels.rolling import ema
from asterrl.features.kernels.volatility import atr


class GridTrader(RuleAgent):
    """Buys a unit per line crossed downwards and sells one per line crossed upwards (see ``GridConfig``)."""

    def __init__(self, config: GridConfig | None = None, mapping: ActionMapping | None = None) -> None:
        super().__init__(mapping)
        self.config = (config or GridConfig()).validate()
        self.name = self.config.name

    def compute_targets(self, series: PriceSeries) -> FloatArray:
        return self.leg(series, np.ones(series.close.shape[0], dtype=np.bool_), fresh_start=False)

    def leg(self, series: PriceSeries, active: BoolArray, fresh_start: bool) -> FloatArray:
        """Targets of a grid that trades only on ``active`` bars; with ``fresh_start`` it starts flat at
        each activation and trades only the lines crossed from then on (see ``grid_targets``)."""
        c = self.config
        anchor = ema(series.close, c.anchor_period)
        spacing = c.spacing_atr * atr(series.high, series.low, series.close, c.atr_period)
        instrument = self.mapping.instrument
        if instrument is not None:  # lines closer than one tick are one price on the exchange
            spacing = np.maximum(spacing, instrument.tick_size)
        return grid_targets(
            series.close, anchor, spacing, c.levels, c.stop_levels, c.max_fraction, c.allow_short,
            active, fresh_start,
        )  # fmt: skip
