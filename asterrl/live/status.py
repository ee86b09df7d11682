"""The bridge's status snapshot and metrics: state, position, equity, PnL today, limits used, last decision.

``publish`` writes the snapshot into the state store (``status`` meta key, read by ``asterrl deploy
status`` from another process) and sets the Prometheus gauges; ``describe_metrics`` declares them once.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Any

from asterrl.live.monitoring import Metrics
from asterrl.live.risk_state import TradingState
from asterrl.live.store import StateStore
from asterrl.risk.limits import RiskLimits

_METRICS = {
    "equity_usdt": ("gauge", "Account equity (wallet + unrealised PnL at the mark), USDT."),
    "position_base": ("gauge", "Signed position, base asset."),
    "pnl_today_usdt": ("gauge", "Equity change since the start of the UTC day, USDT."),
    "trading_state": ("gauge", "1 for the current trading state (RUNNING, REDUCING, HALTED), else 0."),
    "limit_used_ratio": ("gauge", "Share of each hard limit in use (1 = at the limit)."),
    "decision_latency_ms": ("gauge", "Last decision: closed bar in hand to orders handed to the client, ms."),
    "decisions_total": ("counter", "Decisions made."),
    "orders_total": ("counter", "Orders sent."),
    "unknown_outcomes_total": ("counter", "Orders sent without a definite answer (settled by their id)."),
    "reconcile_differences_total": ("counter", "Differences found between the store and the exchange."),
    "risk_events_total": ("counter", "Risk state changes and breaches, by kind."),
}


def describe_metrics(metrics: Metrics) -> None:
    for name, (kind, text) in _METRICS.items():
        metrics.describe(name, kind, text)


@dataclass
class AccountFigures:
    """The account's figures for the snapshot (USDT, base asset)."""

    qty: float
    entry: float
    equity: float
    mark: float
    peak_equity: float
    day_start_equity: float


def limits_used(figures: AccountFigures, limits: RiskLimits, orders_last_minute: int) -> dict[str, float]:
    """Share of each limit in use: leverage, position notional, daily loss, drawdown, order rate."""
    notional = abs(figures.qty) * figures.mark
    equity = figures.equity

    def share(used: float, limit: float) -> float:
        return 0.0 if not math.isfinite(limit) or limit <= 0 else round(used / limit, 4)

    day, peak = figures.day_start_equity, figures.peak_equity
    daily = max(day - equity, 0.0) / day if day > 0 else 0.0
    drawdown = max(peak - equity, 0.0) / peak if peak > 0 else 0.0
    return {
        "leverage": share(notional / equity if equity > 0 else math.inf, limits.max_leverage),
        "position_notional": share(notional, limits.max_position_notional),
        "daily_loss": share(daily, limits.max_daily_loss),
        "drawdown": share(drawdown, limits.max_drawdown),
        "order_rate": share(float(orders_last_minute), limits.max_orders_per_minute),
    }


def publish(
    store: StateStore,
    metrics: Metrics,
    head: dict[str, Any],
    state: TradingState,
    reasons: dict[str, str],
    figures: AccountFigures,
    used: dict[str, float],
) -> dict[str, Any]:
    """Write the status snapshot and set the gauges; returns the snapshot."""
    decision = store.last_decision()
    last: dict[str, Any] = {}
    if decision is not None:
        last = {
            "bar_utc": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(decision["bar_ms"] / 1000)),
            "target_qty": decision["target_qty"],
            "gated_qty": decision["gated_qty"],
            "latency_ms": round(decision["latency_us"] / 1000.0, 3),
        }
    status = {
        **head,
        "state": state.name,
        "reasons": reasons,
        "position_qty": figures.qty,
        "entry_price": figures.entry,
        "equity": round(figures.equity, 6),
        "pnl_today": round(figures.equity - figures.day_start_equity, 6),
        "limits_used": used,
        "last_decision": last,
        "updated_ms": int(time.time() * 1000),
        "updated_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "pid": os.getpid(),
    }
    store.set_meta("status", status)
    metrics.set("equity_usdt", figures.equity)
    metrics.set("position_base", figures.qty)
    metrics.set("pnl_today_usdt", figures.equity - figures.day_start_equity)
    for each in TradingState:
        metrics.set("trading_state", 1.0 if each is state else 0.0, state=each.name)
    for name, value in used.items():
        metrics.set("limit_used_ratio", value, limit=name)
    if last:
        metrics.set("decision_latency_ms", last["latency_ms"])
    return status


def read_status(store: StateStore) -> dict[str, Any]:
    """The last snapshot, with ``alive``: its process still runs and wrote within the last 5 minutes."""
    status: dict[str, Any] = store.get_meta("status", {}) or {}
    if status:
        age_s = time.time() - status.get("updated_ms", 0) / 1000.0
        status["alive"] = _pid_alive(int(status.get("pid", 0))) and age_s < 300.0
    return status


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
