"""The backtester: any policy over any span of a symbol through the market model and the risk gate.

A backtest of a policy is its env rollout: the same action rule (``asterrl.actions``), the same observation
builder (``asterrl.observation``), the same risk gate and market model (``asterrl.sim.account.
advance_account``). On top, the backtester records every fill and cost, applies the stops of the risk
limits (``asterrl.risk.stops``), keeps a halted account flat to the end of the span, and runs a whole grid
of target series in one numba pass.

    setup = BacktestSetup.from_market(market_data, costs, risk, ActionRule(), start="2022-01-01")
    result = backtest_targets(setup, targets, "sma_cross")          # targets: one per decision bar
    run = run_targets(setup, grid_targets)                          # (steps, sets): every set at once
    result = backtest_policy(setup, decide, "ppo", observations)    # a policy deciding bar by bar
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from asterrl.backtest.engine.layout import Fill, Step, Total
from asterrl.backtest.engine.records import account_result, steps_frame, trades_frame
from asterrl.backtest.engine.rollout import (
    Accounts,
    Decide,
    ObservationSource,
    TargetRun,
    run_policy,
    run_targets,
)
from asterrl.backtest.engine.setup import ActionRule, BacktestSetup, span_bars
from asterrl.backtest.result import BacktestResult, TrialSet

__all__ = [
    "ActionRule",
    "BacktestSetup",
    "Decide",
    "Fill",
    "ObservationSource",
    "Step",
    "TargetRun",
    "Total",
    "account_result",
    "backtest_policy",
    "backtest_targets",
    "run_policy",
    "run_targets",
    "span_bars",
    "steps_frame",
    "trades_frame",
]


def backtest_targets(
    setup: BacktestSetup, targets: npt.ArrayLike, name: str, trials: TrialSet | None = None
) -> tuple[BacktestResult, TargetRun]:
    """Backtest one target series (a fraction of the position scale per decision bar, in [-1, 1])."""
    series = np.asarray(targets, dtype=np.float64).reshape(-1, 1)
    run = run_targets(setup, series, record_equity=False, record_steps=True, record_fills=True)
    assert run.steps is not None and run.fills is not None
    result = account_result(setup, run.steps[:, 0], run.totals[0], run.fills, name, trials)
    return result, run


def backtest_policy(
    setup: BacktestSetup,
    decide: Decide,
    name: str,
    observations: ObservationSource | None = None,
    trials: TrialSet | None = None,
) -> tuple[BacktestResult, Accounts]:
    """Backtest a policy deciding bar by bar (see ``run_policy``)."""
    acc = run_policy(setup, decide, observations)
    result = account_result(setup, acc.steps[:, 0], acc.totals[0], acc.fill_rows, name, trials)
    return result, acc
