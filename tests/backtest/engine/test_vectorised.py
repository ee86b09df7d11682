"""The one-pass grid run is the step-by-step backtest trade for trade, and its fills add up to the account."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from agents.config import SmaCrossConfig, VolTrendConfig
from agents.rules.base import PriceSeries
from agents.rules.sweep import parameter_grid, sweep_targets
from asterrl.backtest.engine import (
    ActionRule,
    BacktestSetup,
    Fill,
    Step,
    Total,
    backtest_policy,
    run_targets,
    trades_frame,
)
from asterrl.data.market import MarketData, load_market
from asterrl.risk.limits import RiskLimits
from asterrl.risk.stops import StopReason
from experiments.backtesting.policies import rule_mapping
from experiments.config import load_config


@cache
def _market() -> MarketData:
    cfg = load_config(["data=synthetic", "data.start=2022-01-01", "data.end=2022-07-01"]).data
    return load_market(cfg, seed=3, show_progress=False)


def _setup(deadband: float = 0.05, **risk: float) -> BacktestSetup:
    limits = RiskLimits(**risk)  # type: ignore[arg-type]
    return BacktestSetup.from_market(
        _market(), None, limits, ActionRule(deadband=deadband), start="2022-02-01"
    )


def _grid_targets(setup: BacktestSetup) -> np.ndarray:
    series = PriceSeries.from_bars(_market().bars)
    mapping = rule_mapping(setup.position_scale, setup.instrument)
    sma = parameter_grid(SmaCrossConfig(), {"fast": [6, 12, 24], "slow": [24, 48, 96]})
    assert len(sma) == 8 and sma.skipped == 1  # fast 24 / slow 24 is no crossover
    trend = parameter_grid(VolTrendConfig(), {"entry_window": [24, 72], "exit_window": [12, 48]})
    both = np.hstack([sweep_targets(sma, series, mapping), sweep_targets(trend, series, mapping)])
    return both[setup.start_bar : setup.end_bar]


@pytest.mark.parametrize(
    "risk",
    [{}, {"trailing_stop": 0.02, "time_stop_bars": 48.0, "take_profit": 0.05, "stop_atr": 3.0}],
    ids=["plain", "with_stops"],
)
def test_grid_run_equals_the_step_by_step_backtest_trade_for_trade(risk: dict[str, float]) -> None:
    setup = _setup(**risk)
    targets = _grid_targets(setup)
    grid = run_targets(setup, targets, record_equity=True, record_steps=True, record_fills=True)
    assert grid.fills is not None and grid.equity is not None and grid.steps is not None
    for j in range(targets.shape[1]):
        stepped, acc = backtest_policy(setup, lambda t, obs, j=j: targets[t - setup.start_bar, j], f"set{j}")
        mine = grid.fills[grid.fills[:, Fill.ACCOUNT] == j]
        theirs = acc.fill_rows
        assert mine.shape == theirs.shape and mine.shape[0] > 0
        np.testing.assert_array_equal(mine[:, Fill.BAR :], theirs[:, Fill.BAR :])
        np.testing.assert_array_equal(grid.equity[:, j], stepped.equity)
        np.testing.assert_array_equal(grid.steps[:, j], acc.steps[:, 0])
    if risk:  # the stops did fire, on several sets
        assert np.count_nonzero(grid.steps[:, :, Step.STOP_REASON]) > targets.shape[1]


@pytest.mark.parametrize(
    ("risk", "exit_kind", "at_least"),
    [
        ({"max_drawdown": 0.15, "max_daily_loss": 0.08}, 1, 20),
        ({"max_drawdown": np.inf, "max_daily_loss": np.inf}, 2, 4),
    ],
    ids=["loss_stops", "liquidations"],
)
def test_fills_add_up_to_positions_costs_and_wallet_under_stops_and_liquidations(
    risk: dict[str, float], exit_kind: int, at_least: int
) -> None:
    """Random target series at 20x: in-bar loss stops (or, without loss limits, liquidations) end the runs,
    and a bar with an order at its open and an exit inside holds two fills; the fills must still account
    for every position change, cost and the final wallet."""
    rng = np.random.default_rng(7)
    setup = _setup(deadband=0.0, max_leverage=20.0, **risk)  # no deadband: an order at almost every open
    n_sets = 40
    flips = rng.integers(1, 24, size=n_sets)
    targets = np.zeros((setup.steps, n_sets))
    for j in range(n_sets):
        held = rng.choice([-1.0, 1.0], size=setup.steps // flips[j] + 1).repeat(flips[j])[: setup.steps]
        targets[:, j] = held * rng.uniform(0.3, 1.0)
    run = run_targets(setup, targets, record_equity=True, record_steps=True, record_fills=True)
    assert run.fills is not None and run.steps is not None
    assert np.count_nonzero(run.totals[:, Total.EVENT]) >= at_least  # runs ended early
    kinds = run.fills[:, Fill.KIND].astype(int)
    assert np.count_nonzero(kinds == exit_kind) >= at_least
    pairs = np.diff(run.fills[:, Fill.BAR]) == 0  # two fills of one account on one bar
    assert np.count_nonzero(pairs & (np.diff(run.fills[:, Fill.ACCOUNT]) == 0)) >= 1
    for j in range(n_sets):
        f = run.fills[run.fills[:, Fill.ACCOUNT] == j]
        steps = run.steps[:, j]
        # a fill at bar k's open belongs to the step ending on k; a halt's exit goes out at the next open
        rows = f[:, Fill.BAR].astype(int) - setup.start_bar - 1 - (f[:, Fill.KIND] == 3)
        position = np.zeros(setup.steps)
        for row, qty in zip(rows, f[:, Fill.QUANTITY], strict=True):
            position[min(row, setup.steps - 1) :] += qty
        last = int(run.totals[j, Total.LAST_STEP])
        np.testing.assert_allclose(position[:last], steps[:last, Step.POSITION], atol=1e-9)
        assert f[:, Fill.FEE].sum() == pytest.approx(steps[:, Step.FEE].sum(), abs=1e-7)
        assert f[:, Fill.SLIPPAGE].sum() == pytest.approx(steps[:, Step.SLIPPAGE].sum(), abs=1e-7)
        if steps[last - 1, Step.POSITION] == 0.0:  # flat: wallet = start + realised net of fees + funding
            final = setup.initial_balance + f[:, Fill.REALIZED_PNL].sum() + steps[:, Step.FUNDING].sum()
            assert run.totals[j, Total.FINAL_EQUITY] == pytest.approx(max(final, 0.0), abs=1e-6)


def test_the_trades_table_names_the_stop_behind_each_exit() -> None:
    """Always long under an 1.5 % trailing stop: every close that fires the stop sends the exit at the next
    open, and the trades table calls exactly those fills ``trailing_stop`` (each one flattens the account);
    the re-entries after the policy lets go are plain orders."""
    setup = _setup(trailing_stop=0.015)
    targets = np.where(np.arange(setup.steps) % 96 < 90, 1.0, 0.0)  # let go for 6 bars a day: re-enter
    run = run_targets(setup, targets, record_equity=False, record_steps=True, record_fills=True)
    assert run.fills is not None and run.steps is not None
    steps = run.steps[:, 0]
    trades = trades_frame(run.fills, steps, setup.start_bar)
    fired = np.flatnonzero(steps[:, Step.STOP_REASON] == StopReason.TRAILING_STOP)
    stopped = trades[trades["kind"] == "trailing_stop"]
    assert fired.size >= 3 and len(stopped) == fired.size
    np.testing.assert_array_equal(stopped["bar"].to_numpy(), setup.start_bar + fired + 1)
    np.testing.assert_allclose(stopped["position_after"].to_numpy(), 0.0, atol=1e-12)
    assert (trades["kind"] == "order").sum() == len(trades) - fired.size > 0
