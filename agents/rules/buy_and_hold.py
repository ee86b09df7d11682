"""Buy-and-hold, the reference every agent is compared with."""

from __future__ import annotations

import numpy as np

from agents.config import BuyAndHoldConfig
from agents.policy import ActionMapping, FloatArray
from agents.rules.base import PriceSeries, RuleAgent


class BuyAndHold(RuleAgent):
    """Long ``leverage`` (capped at the position scale) at every decision."""

    def __init__(self, config: BuyAndHoldConfig | None = None, mapping: ActionMapping | None = None) -> None:
        super().__init__(mapping)
        self.config = (config or BuyAndHoldConfig()).validate()
        self.name = self.config.name

    def compute_targets(self, series: PriceSeries) -> FloatArray:
        return np.full(series.close.shape[0], min(1.0, self.config.leverage / self.mapping.position_scale))
