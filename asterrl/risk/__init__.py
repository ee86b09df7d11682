"""Risk limits and the one gate that enforces them (shared by the environments and the live bridge)."""

from asterrl.risk.gate import (
    GateDecision,
    RiskGate,
    gate_target,
    leverage_capped_qty,
    loss_limit_flags,
    trimmed_position,
)
from asterrl.risk.limits import RiskLimits, RiskLimitsConfig

__all__ = [
    "GateDecision",
    "RiskGate",
    "RiskLimits",
    "RiskLimitsConfig",
    "gate_target",
    "leverage_capped_qty",
    "loss_limit_flags",
    "trimmed_position",
]
