"""Volatility-targeted trend following: channel breakouts sized by target over realised volatility."""

from __future__ import annotations

import math

import numpy as np

from agents.config import VolTrendConfig
from agents.policy import ActionMapping, BoolArray, FloatArray
from agents.rules.base import PriceSeries, RuleAgent
from agents.rules.kernels import breakout_targets
from asterrl.features.kernels.rolling import rolling_max, rolling_min
from asterrl.features.kernels.volatility import realized_volatility


def previous(x: FloatArray) -> FloatArray:
    """``x`` shifted one bar later (NaN at bar 0): the value as of the bar before."""
    out = np.empty_like(x)
    out[0] = np.nan
    out[1:] = x[:-1]
    return out


def volatility_size(
    close: FloatArray, window: int, target: float, cap: float, bars_per_year: float, position_scale: float
) -> FloatArray:
    """Fraction of the position scale whose leverage is ``target / annualised realised volatility``,
    capped at ``cap`` (NaN in the warm-up)."""
    sigma = realized_volatility(close, window) * math.sqrt(bars_per_year)
    with np.errstate(divide="ignore", invalid="ignore"):
        size = np.where(sigma > 0.0, target / (sigma * position_scale), cap)
    return np.where(np.isnan(sigma), np.nan, np.minimum(size, cap))


class VolTrend(RuleAgent):
    """Donchian breakout in, shorter channel out, sized to a volatility target (see ``VolTrendConfig``)."""

    def __init__(self, config: VolTrendConfig | None = None, mapping: ActionMapping | None = None) -> None:
        super().__init__(mapping)
        self.config = (config or VolTrendConfig()).validate()
        self.name = self.config.name

    def compute_targets(self, series: PriceSeries) -> FloatArray:
        return self.leg(series, np.ones(series.close.shape[0], dtype=np.bool_))

    def leg(self, series: PriceSeries, active: BoolArray) -> FloatArray:
        """Targets of the breakout trading only on ``active`` bars: after an inactive spell it enters only
        on a fresh breakout (see ``breakout_targets``)."""
        c = self.config
        size = volatility_size(
            series.close,
            c.vol_window,
            c.target_volatility,
            c.max_fraction,
            series.bars_per_year,
            self.mapping.position_scale,
        )
        return breakout_targets(
            series.close,
            previous(rolling_max(series.high, c.entry_window)),
            previous(rolling_min(series.low, c.entry_window)),
            previous(rolling_max(series.high, c.exit_window)),
            previous(rolling_min(series.low, c.exit_window)),
            size,
            c.allow_short,
            active,
        )
