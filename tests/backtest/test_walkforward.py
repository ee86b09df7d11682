"""Walk-forward on a grid of rule settings: purged folds, the choice made on training bars only, one
stitched out-of-sample account, and the per-fold table and figure in the report."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from agents.config import SmaCrossConfig
from agents.rules.base import PriceSeries
from agents.rules.sweep import parameter_grid, sweep_targets
from asterrl.backtest.engine import ActionRule, BacktestSetup, backtest_targets
from asterrl.backtest.walkforward import (
    WalkForwardConfig,
    fold_figure,
    fold_plan,
    fold_table,
    objective_values,
    select_settings,
    stitch,
)
from asterrl.data.market import MarketData, load_market
from asterrl.errors import ConfigError
from asterrl.risk.limits import RiskLimits
from experiments.backtesting.policies import rule_mapping
from experiments.config import load_config


@cache
def _market() -> MarketData:
    cfg = load_config(["data=synthetic", "data.start=2022-01-01", "data.end=2022-09-01"])
    return load_market(cfg.data, seed=8, show_progress=False)


def _grid(setup: BacktestSetup) -> tuple[np.ndarray, list[str]]:
    grid = parameter_grid(SmaCrossConfig(), {"fast": [6, 24], "slow": [48, 168]})
    series = PriceSeries.from_bars(_market().bars)
    targets = sweep_targets(grid, series, rule_mapping(setup.position_scale, setup.instrument))
    return targets, [grid.label(j) for j in range(len(grid))]


@pytest.mark.parametrize("scheme", ["rolling", "anchored"])
def test_folds_are_purged_and_the_choice_uses_training_bars_only(scheme: str) -> None:
    setup = BacktestSetup.from_market(
        _market(), None, RiskLimits(), ActionRule(deadband=0.05), start="2022-02-01"
    )
    cfg = WalkForwardConfig(scheme=scheme, n_folds=4, purge=5).validate()
    plan = fold_plan(setup, cfg)
    assert len(plan.folds) == 4
    for fold in plan.folds:
        assert fold.val_end - 1 + 1 + 5 < fold.test_start  # last training bar, one return, the purge
        assert fold.fit_start == setup.start_bar or scheme == "rolling"
    targets, labels = _grid(setup)
    folds = select_settings(setup, targets, plan, "sharpe", labels)
    for f in folds:  # each choice is the best of the settings backtested alone on its training window
        window = setup.with_span(f.train_start, f.train_end)
        scores = []
        for j in range(targets.shape[1]):
            alone, _ = backtest_targets(window, targets[f.train_start : f.train_end, j], labels[j])
            scores.append(objective_values(alone.equity[:, None], "sharpe", setup.bars_per_year)[0])
        assert f.choice == int(np.argmax(scores)) and f.train_score == pytest.approx(max(scores), rel=1e-12)
    # what happens after a training window cannot change its choice
    scrambled = targets.copy()
    last_fold = folds[-1]
    scrambled[last_fold.test_start :] = np.random.default_rng(0).choice(
        [-1.0, 1.0], scrambled[last_fold.test_start :].shape
    )
    assert [f.choice for f in select_settings(setup, scrambled, plan, "sharpe")] == [f.choice for f in folds]


def test_stitched_out_of_sample_run_and_its_fold_table() -> None:
    setup = BacktestSetup.from_market(
        _market(), None, RiskLimits(), ActionRule(deadband=0.05), start="2022-02-01"
    )
    cfg = WalkForwardConfig(n_folds=3).validate()
    targets, labels = _grid(setup)
    folds = select_settings(setup, targets, fold_plan(setup, cfg), "net_return", labels)
    series, first, last = stitch(targets, folds)
    assert last == setup.end_bar and first == folds[0].test_start
    result, _ = backtest_targets(setup.with_span(first, last), series, "walkforward")
    table = fold_table(result, folds, setup)
    frame = table.frame
    assert list(frame.index) == [1, 2, 3] and frame["choice"].tolist() == [labels[f.choice] for f in folds]
    # the fold returns compound to the stitched account's
    assert np.prod(1.0 + frame["test_return"].to_numpy()) == pytest.approx(
        result.equity[-1] / result.equity[0], rel=1e-12
    )
    assert frame["fills"].sum() == len(result.fills)
    assert fold_figure(result, table, "net_return")[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_walkforward_settings_name_their_key() -> None:
    for kwargs, key in (
        ({"scheme": "expanding"}, "scheme"),
        ({"fit": "magic"}, "fit"),
        ({"embargo": 0}, "embargo"),
    ):
        with pytest.raises(ConfigError, match=rf"walkforward\.{key}"):
            WalkForwardConfig(**kwargs).validate()  # type: ignore[arg-type]
