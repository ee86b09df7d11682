"""Build a rule agent from its config (the learning agents are built by their trainers)."""

from __future__ import annotations

from agents.config import (
    BuyAndHoldConfig,
    DemarkConfig,
    GridConfig,
    HybridConfig,
    SmaCrossConfig,
    VolTrendConfig,
)
from agents.policy import ActionMapping
from agents.rules import (
    BuyAndHold,
    DemarkExhaustion,
    GridTrader,
    HybridAdaptive,
    RuleAgent,
    SmaCross,
    VolTrend,
)
from asterrl.errors import ConfigError

RuleConfig = BuyAndHoldConfig | GridConfig | VolTrendConfig | HybridConfig | DemarkConfig | SmaCrossConfig


def build_rule_agent(cfg: object, mapping: ActionMapping) -> RuleAgent:
    """The rule agent of ``cfg`` (call ``prepare(bars)`` on it before acting)."""
    if isinstance(cfg, BuyAndHoldConfig):
        return BuyAndHold(cfg, mapping)
    if isinstance(cfg, GridConfig):
        return GridTrader(cfg, mapping)
    if isinstance(cfg, VolTrendConfig):
        return VolTrend(cfg, mapping)
    if isinstance(cfg, HybridConfig):
        return HybridAdaptive(cfg, mapping)
    if isinstance(cfg, DemarkConfig):
        return DemarkExhaustion(cfg, mapping)
    if isinstance(cfg, SmaCrossConfig):
        return SmaCross(cfg, mapping)
    raise ConfigError(f"{type(cfg).__name__} is not a rule agent config")
