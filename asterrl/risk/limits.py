"""``RiskLimits``: the hard limits every order passes, in the environment and in the live bridge alike.

A limit set to ``.inf`` is off. The numba gate reads the limits as a float64 array built by
``RiskLimits.to_array``; the index constants below name its slots.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from asterrl.errors import ConfigError

# Slots of the float64 limits array read by the numba gate.
L_MAX_LEVERAGE = 0
L_MAX_POSITION_NOTIONAL = 1
L_MAX_ORDER_NOTIONAL = 2
L_MAX_DRAWDOWN = 3
L_MAX_DAILY_LOSS = 4
L_MAX_ORDERS_PER_MINUTE = 5
L_MAX_DATA_AGE_MS = 6
L_PRICE_BAND = 7
N_LIMITS = 8


@dataclass
class RiskLimits:
    """Hard risk limits (a Hydra structured config; ``conf/risk/default.yaml``).

    :param max_leverage: largest position notional over equity after an order, counting the order's own
        fee and slippage; a larger target is clipped to it.
    :param max_position_notional: largest absolute position notional, USDT; a larger target is clipped.
    :param max_order_notional: largest notional of one order, USDT; a larger order is clipped.
    :param max_drawdown: fraction of the peak equity whose loss flattens and halts (0.5 = 50 %).
    :param max_daily_loss: fraction of the equity at the start of the UTC day whose loss flattens and halts.
    :param max_orders_per_minute: orders allowed in any trailing 60 s; more are rejected (live bridge).
    :param max_data_age_ms: age of the newest market data beyond which orders are rejected, ms.
    :param price_band: largest relative distance of an order's price from the mark price (0.02 = 2 %);
        an order priced further away is rejected.
    """

    max_leverage: float = 3.0
    max_position_notional: float = math.inf
    max_order_notional: float = math.inf
    max_drawdown: float = 0.5
    max_daily_loss: float = 0.2
    max_orders_per_minute: float = 60.0
    max_data_age_ms: float = 120_000.0
    price_band: float = 0.05

    def validate(self) -> RiskLimits:
        """Raise ``ConfigError`` on a non-positive limit or a loss fraction outside (0, 1]; return self."""
        for name in ("max_leverage", "max_position_notional", "max_order_notional", "max_orders_per_minute"):
            if not getattr(self, name) > 0.0:
                raise ConfigError(f"risk.{name} must be > 0 (use .inf to switch it off)")
        for name in ("max_drawdown", "max_daily_loss"):
            value = getattr(self, name)
            if not (0.0 < value <= 1.0 or math.isinf(value)):
                raise ConfigError(f"risk.{name} must lie in (0, 1] (a fraction of equity) or be .inf")
        if not (self.max_data_age_ms > 0.0 and self.price_band > 0.0):
            raise ConfigError("risk.max_data_age_ms and risk.price_band must be > 0 (use .inf to switch off)")
        return self

    def to_array(self) -> npt.NDArray[np.float64]:
        """The limits as the float64 array the numba gate reads (slots ``L_*``)."""
        out = np.empty(N_LIMITS, dtype=np.float64)
        out[L_MAX_LEVERAGE] = self.max_leverage
        out[L_MAX_POSITION_NOTIONAL] = self.max_position_notional
        out[L_MAX_ORDER_NOTIONAL] = self.max_order_notional
        out[L_MAX_DRAWDOWN] = self.max_drawdown
        out[L_MAX_DAILY_LOSS] = self.max_daily_loss
        out[L_MAX_ORDERS_PER_MINUTE] = self.max_orders_per_minute
        out[L_MAX_DATA_AGE_MS] = self.max_data_age_ms
        out[L_PRICE_BAND] = self.price_band
        return out

    def to_manifest(self) -> dict[str, Any]:
        """JSON-safe dict for the frozen-policy manifest (infinities written as ``None``)."""
        return {key: (None if math.isinf(value) else value) for key, value in asdict(self).items()}


#: The Hydra structured-config name of the same type (one type, one set of rules).
RiskLimitsConfig = RiskLimits
