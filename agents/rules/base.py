"""``RuleAgent``: a rule-based policy whose target position at every bar is computed once over the bars.

A rule agent is prepared on the same bars frame the env was built on (``prepare(bars)``); ``act`` then looks
up the target of each account's decision bar (from the ``DecisionContext``) and maps it to the env's action
space. The targets come from causal numba kernels, so looking them up equals deciding bar by bar.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from agents.policy import ActionMapping, DecisionContext, FloatArray
from asterrl.backtest.metrics import bars_per_year_of
from asterrl.errors import ConfigError, DataError


@dataclass(frozen=True, slots=True)
class PriceSeries:
    """The arrays a rule reads: bar open times (ms UTC) and last-trade high, low, close (USDT)."""

    timestamps: npt.NDArray[np.int64]
    high: FloatArray
    low: FloatArray
    close: FloatArray

    @classmethod
    def from_bars(cls, bars: pd.DataFrame) -> PriceSeries:
        """From a canonical bars frame (``timestamp high low close`` columns)."""
        missing = {"timestamp", "high", "low", "close"} - set(bars.columns)
        if missing:
            raise DataError(f"bars lack column(s) {', '.join(sorted(missing))}")
        return cls(
            bars["timestamp"].to_numpy(dtype=np.int64),
            np.ascontiguousarray(bars["high"].to_numpy(dtype=np.float64)),
            np.ascontiguousarray(bars["low"].to_numpy(dtype=np.float64)),
            np.ascontiguousarray(bars["close"].to_numpy(dtype=np.float64)),
        )

    @property
    def bars_per_year(self) -> float:
        """Bars in a 365-day year at the series' bar interval (``asterrl.backtest.metrics``)."""
        return bars_per_year_of(self.timestamps)


class RuleAgent(ABC):
    """Base of the rule-based policies: ``prepare`` computes targets, ``act`` looks them up."""

    name: str = "rule"

    def __init__(self, mapping: ActionMapping | None = None) -> None:
        self._mapping = mapping
        self._series: PriceSeries | None = None
        self._targets: FloatArray = np.zeros(0)

    @property
    def mapping(self) -> ActionMapping:
        """The env's action mapping (action type, levels, position scale); a rule agent refuses to run
        without it, since its targets are fractions of the env's position scale."""
        if self._mapping is None:
            raise ConfigError(
                f"{self.name}: built without the env's action mapping; pass the env's ActionMapping "
                "(agents.registry.build_rule_agent(cfg, mapping)) so targets use its position scale"
            )
        return self._mapping

    @abstractmethod
    def compute_targets(self, series: PriceSeries) -> FloatArray:
        """Target position per bar, fraction of the position scale in [-1, 1] (the strategy's rule)."""

    def decision_series(self, series: PriceSeries) -> dict[str, FloatArray]:
        """Every per-bar series the rule decides from, by name, ``target`` included (what
        ``asterrl features check-lookahead --agent`` checks)."""
        return {"target": np.asarray(self.compute_targets(series), dtype=np.float64)}

    def prepare(self, bars: pd.DataFrame | PriceSeries) -> RuleAgent:
        """Compute the targets over ``bars`` (the frame the env was built on); return ``self``."""
        self.mapping  # noqa: B018  (refuse to run without the env's mapping, before any work)
        series = bars if isinstance(bars, PriceSeries) else PriceSeries.from_bars(bars)
        targets = np.asarray(self.compute_targets(series), dtype=np.float64)
        if targets.shape != series.close.shape:
            raise DataError(f"{self.name}: {targets.shape[0]} targets for {series.close.shape[0]} bars")
        self._series = series
        self._targets = np.clip(np.nan_to_num(targets, nan=0.0), -1.0, 1.0)
        return self

    @property
    def targets(self) -> FloatArray:
        """The prepared targets, one per bar."""
        return self._targets

    def act(
        self, observations: npt.NDArray[np.float32], context: DecisionContext | None = None
    ) -> npt.NDArray[np.float64] | npt.NDArray[np.int64]:
        """The action that targets each account's decision-bar position."""
        if self._series is None:
            raise ConfigError(f"{self.name}: call prepare(bars) before act()")
        if context is None:
            raise ConfigError(f"{self.name}: a rule agent needs the DecisionContext (decision bars)")
        bars = np.asarray(context.bars, dtype=np.int64)
        if bars.size and (bars.min() < 0 or bars.max() >= self._targets.shape[0]):
            raise DataError(f"{self.name}: decision bar outside the {self._targets.shape[0]} prepared bars")
        if not np.array_equal(self._series.timestamps[bars], np.asarray(context.timestamps, dtype=np.int64)):
            raise DataError(f"{self.name}: the env's bars are not the bars this agent was prepared on")
        return self.mapping.to_actions(self._targets[bars])

    def reset(self, mask: npt.NDArray[np.bool_] | None = None) -> None:  # noqa: B027
        """Nothing to forget: the targets depend on the bars only."""

    def seed(self, seed: int) -> None:  # noqa: B027
        """Rule agents draw nothing at random."""
