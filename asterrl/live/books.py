"""The running figures the env keeps for an account, kept by the bridge in its state store.

* Peak equity (the drawdown's reference) includes every bar's close; the day's start equity is the
  equity at the last close before the day's first bar (the env's rule, so the gate's loss limits agree).
* Bars since the last fill: 0 on a fresh start (as an env reset) and on the bar after a fill.
* Each decision's outcome, once the next bar has closed: its fills, fees, the equity then and the reward
  ``log(equity after / equity before)`` (the experience the training side reads back).

Also: the artifact's risk limits with the deployment's overrides, and its market model.
"""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any

from asterrl.errors import LiveError
from asterrl.live.store import StateStore
from asterrl.risk.limits import RiskLimits
from asterrl.sim.config import CostConfig, LimitOrderConfig, MarketModelConfig

DAY_MS = 86_400_000


class Books:
    """Peak and day-start equity, bars since the last fill, and decision outcomes of one deployment.

    :param store: the deployment's state store (everything is kept there, so a restart resumes it).
    :param interval_ms: bar length, ms.
    """

    def __init__(self, store: StateStore, interval_ms: int) -> None:
        self.store = store
        self.interval_ms = interval_ms

    def start(self, equity: float, now_ms: int) -> None:
        """First start of the deployment: peak and day start are today's equity."""
        if self.store.get_meta("peak_equity") is None:
            self.store.set_meta("peak_equity", equity)
            self.store.set_meta("day_start_equity", equity)
            self.store.set_meta("day", now_ms // DAY_MS)

    def bars_since_trade(self) -> int:
        """Bars since the last fill at the decision about to be made (0 on a fresh start)."""
        previous = self.store.get_meta("bars_since_trade")
        last_bar = self.store.get_meta("last_bar_ms")
        traded = last_bar is not None and self.store.fill_count_since(int(last_bar) + self.interval_ms) > 0
        return 0 if traded or previous is None else int(previous) + 1

    def track_equity(self, equity_close: float, next_open_ms: int) -> tuple[float, float]:
        """Peak and day-start equity (USDT) for the order going out at ``next_open_ms``."""
        peak = max(float(self.store.get_meta("peak_equity", equity_close)), equity_close)
        day = next_open_ms // DAY_MS
        day_start = float(self.store.get_meta("day_start_equity", equity_close))
        if day != self.store.get_meta("day"):
            day_start = equity_close
            self.store.set_meta("day", day)
        self.store.set_meta("peak_equity", peak)
        self.store.set_meta("day_start_equity", day_start)
        return peak, day_start

    def settle_previous(self, equity: float) -> None:
        """Book the previous decision's outcome: fills since, equity now, reward ``log(now / then)``."""
        pending = self.store.get_meta("pending_equity")
        if not pending:
            return
        bar_ms, before = int(pending[0]), float(pending[1])
        fills = self.store.fills(since_ms=bar_ms + self.interval_ms)
        qty = sum(f[3] for f in fills)
        notional = sum(abs(f[3]) * f[4] for f in fills)
        fees = sum(f[5] for f in fills)
        reward = math.log(equity / before) if equity > 0 and before > 0 else 0.0
        self.store.settle_decision(bar_ms, qty, notional, fees, equity, reward)

    def decided(self, bar_ms: int, equity: float, bars_since_trade: int) -> None:
        """Remember a decision (its outcome is settled at the next one)."""
        self.store.set_meta("last_bar_ms", bar_ms)
        self.store.set_meta("bars_since_trade", bars_since_trade)
        self.store.set_meta("pending_equity", [bar_ms, equity])

    @property
    def peak_equity(self) -> float:
        return float(self.store.get_meta("peak_equity", 0.0))

    @property
    def day_start_equity(self) -> float:
        return float(self.store.get_meta("day_start_equity", 0.0))


def deployed_limits(trained: RiskLimits, overrides: dict[str, float]) -> RiskLimits:
    """The artifact's limits with the deployment's overrides (``deploy.risk.*``), validated."""
    known = {f.name for f in fields(RiskLimits)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise LiveError(f"deploy.risk.{unknown[0]} is not a risk limit (one of {', '.join(sorted(known))})")
    values: dict[str, Any] = {k: getattr(trained, k) for k in known}
    values.update(overrides)
    return RiskLimits(**values).validate()


def market_model(raw: dict[str, Any]) -> MarketModelConfig:
    """The market model the artifact was trained under (defaults where the manifest has none)."""

    def pick(kind: type, values: Any) -> Any:
        names = {f.name for f in fields(kind)}
        return kind(**{k: v for k, v in dict(values or {}).items() if k in names})

    model = MarketModelConfig(
        costs=pick(CostConfig, raw.get("costs")),
        limit_orders=pick(LimitOrderConfig, raw.get("limit_orders")),
        reduce_only_exits=bool(raw.get("reduce_only_exits", True)),
        stop_slippage=bool(raw.get("stop_slippage", True)),
    )
    return model.validate("manifest market.model")
