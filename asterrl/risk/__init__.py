"""Risk limits and the one gate that enforces them (shared by the environments and the live bridge)."""

from asterrl.risk.gate import (
    FLAG_NAMES,
    flag_names,
    gate_target,
    leverage_capped_qty,
    loss_limit_flags,
    trimmed_position,
)
from asterrl.risk.limits import Limit, RiskLimits, RiskLimitsConfig
from asterrl.risk.order_decision import OrderDecision, RiskGate, decide_order

__all__ = [
    "FLAG_NAMES",
    "Limit",
    "OrderDecision",
    "RiskGate",
    "RiskLimits",
    "RiskLimitsConfig",
    "decide_order",
    "flag_names",
    "gate_target",
    "leverage_capped_qty",
    "loss_limit_flags",
    "trimmed_position",
]
