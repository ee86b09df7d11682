"""``walk_forward(cfg)``: fit on each training window, trade the next, and report the stitched out-of-sample
account with its folds.

``walkforward.fit``:

* ``grid``: the rule agent's ``backtest.grid`` (every setting backtested on each training window in one
  pass), the best by ``walkforward.objective`` traded in the test window;
* ``forecast``: the forecasters of ``forecast.*`` trained per fold (``asterrl.forecast``'s walk-forward on
  the same fold plan: purged, embargoed) and traded on the sign of their forecast of the ``forecast.horizon``
  bar return (beyond ``walkforward.forecast_threshold`` training-label standard deviations);
* ``ppo``: the SB3 checkpoint of ``backtest.checkpoint`` fine-tuned ``walkforward.ppo_iterations`` PPO
  iterations on each training window, then trading its test window.

Every grid setting (or forecaster) is recorded as a trial with its returns over the out-of-sample span, so
the stitched result is reported with the PBO of choosing among them.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from agents.rules.base import PriceSeries
from agents.rules.sweep import parameter_grid, sweep_targets
from asterrl.backtest.engine import BacktestSetup, Total, backtest_targets, run_targets
from asterrl.backtest.report import ReportSection
from asterrl.backtest.walkforward import (
    FoldChoice,
    fold_figure,
    fold_plan,
    fold_table,
    select_settings,
    stitch,
)
from asterrl.data.market import load_market
from asterrl.errors import ConfigError, DataError
from experiments.backtesting.policies import rule_mapping
from experiments.backtesting.run import Backtested, _rule_agent, _setup, _sized, _tables, _trial_params

FloatArray = npt.NDArray[np.float64]


def walk_forward(cfg: Any, show_progress: bool = True) -> Backtested:
    """Run the walk-forward of ``cfg`` (see the module docstring); the stitched result as a ``Backtested``
    whose grid returns are every setting's (or forecaster's) over the out-of-sample span."""
    w = cfg.walkforward.validate()
    if cfg.backtest.symbols and len(cfg.backtest.symbols) > 1:
        raise ConfigError("asterrl walkforward trades one symbol (data.symbol): drop backtest.symbols")
    if w.fit == "ppo":
        from experiments.backtesting.finetune import ppo_walk_forward

        return ppo_walk_forward(cfg, show_progress)
    market = load_market(cfg.data, cfg.seed, show_progress=show_progress)
    setup = _setup(cfg, market)
    if w.fit == "grid":
        agent = _rule_agent(cfg)
        grid = parameter_grid(agent, cfg.backtest.grid)
        series = PriceSeries.from_bars(market.bars)
        matrix = _sized(
            cfg, setup, sweep_targets(grid, series, rule_mapping(setup.position_scale, setup.instrument))
        )
        labels = [grid.label(j) for j in range(len(grid))]
        params: list[dict[str, Any]] = [{"agent": dataclasses.asdict(c)} for c in grid.configs]
        folds = select_settings(setup, matrix, fold_plan(setup, w), w.objective, labels)
        kind = agent.name
    else:
        matrix, labels, folds = _forecast_targets(cfg, market, setup)
        params = [{"forecaster": name, "forecast": dataclasses.asdict(cfg.forecast)} for name in labels]
        kind = "forecast"
    return _stitched(cfg, setup, matrix, labels, params, folds, kind)


def _stitched(
    cfg: Any, setup: BacktestSetup, matrix: FloatArray, labels: list[str], params: list[dict[str, Any]],
    folds: list[FoldChoice], kind: str,
) -> Backtested:  # fmt: skip
    w = cfg.walkforward
    series, first, last = stitch(matrix, folds)
    span = setup.with_span(first, last)
    result, run = backtest_targets(span, series, f"{kind} walk-forward")
    assert run.steps is not None and run.fills is not None
    done = Backtested(
        result, f"{kind}-walkforward", _trial_params(cfg, {"walkforward": dataclasses.asdict(w)}), span
    )
    _tables(done, span, run.steps[:, 0], run.totals[0], run.fills)
    everyone = run_targets(span, matrix[first:last], record_equity=True)
    assert everyone.equity is not None
    e = everyone.equity
    done.grid_returns = e[1:] / np.where(e[:-1] > 0.0, e[:-1], 1.0) - 1.0
    done.grid_labels, done.grid_params = labels, params
    table = fold_table(result, folds, setup)
    done.tables["folds"] = table.frame
    horizon = cfg.forecast.horizon if w.fit == "forecast" else 1
    scheme = (
        f"{w.scheme}, {len(folds)} folds, purge {horizon + w.purge} bars, embargo {max(w.embargo, horizon)}"
    )
    done.sections.append(ReportSection(
        "Walk-forward folds", "folds",
        (f"Fit: {w.fit} ({len(labels)} candidates) on each training window by {w.objective}; {scheme}. The "
         "out-of-sample equity is one account over the test windows, the targets switching to each fold's "
         "choice at its first bar. Every candidate is a trial over the same out-of-sample bars (PBO).",),
        table.frame, fold_figure(result, table, w.objective),
    ))  # fmt: skip
    done.notes += _fold_notes(span, folds, scheme, run.totals[0])
    return done


def _fold_notes(span: BacktestSetup, folds: list[FoldChoice], scheme: str, totals: FloatArray) -> list[str]:
    """The summary's notes on the folds: the scheme, the choices, and the folds a halt left untraded."""
    first = pd.Timestamp(int(span.market.timestamps[span.start_bar]), unit="ms", tz="UTC")
    labels = [f.label for f in folds]
    picked = f"{labels[0]} in every fold" if len(set(labels)) == 1 else ", ".join(labels)
    notes = [f"{scheme}; out of sample from {first:%Y-%m-%d} (earlier bars only train); chose {picked}"]
    if totals[Total.EVENT]:
        ended = span.start_bar + int(totals[Total.LAST_STEP])
        idle = [f.index + 1 for f in folds if f.test_start >= ended]  # numbered from 1, as in folds.csv
        if idle:
            notes.append(f"folds {idle[0]}..{idle[-1]} were not traded: the account had stopped before them")
    return notes


def _forecast_targets(
    cfg: Any, market: Any, setup: BacktestSetup
) -> tuple[FloatArray, list[str], list[FoldChoice]]:
    """Targets of each forecaster's out-of-fold forecasts (sign beyond the threshold), and the folds."""
    from asterrl.features.inputs import MarketInputs
    from asterrl.forecast.run import raw_pipeline
    from asterrl.forecast.walkforward import run_walk_forward

    w = cfg.walkforward
    folds = dataclasses.replace(w.fold_config(), embargo=max(w.embargo, cfg.forecast.horizon))
    forecast = dataclasses.replace(cfg.forecast, folds=folds)
    pipeline, clip = raw_pipeline(cfg.features)
    bars = market.bars.iloc[: setup.end_bar + 1].reset_index(drop=True)
    inputs = MarketInputs.from_frames(bars, market.funding, reference_symbol=pipeline.reference_symbol)
    features = pipeline.transform(inputs)
    with tempfile.TemporaryDirectory(prefix="asterrl-wf-") as models:
        result = run_walk_forward(features.values, features.columns, inputs.close, inputs.timestamp,
                                  pipeline.feature_warmup, forecast, Path(models), cfg.seed,
                                  clip)  # fmt: skip
    n = market.bars.shape[0]
    matrix = np.zeros((n, len(result.outputs)))
    bar = w.forecast_threshold * np.where(np.isfinite(result.label_scale), result.label_scale, 0.0)
    for j in range(len(result.outputs)):
        pred = result.ret[:, j]
        strong = np.isfinite(pred) & (np.abs(pred) > bar)
        matrix[: pred.size, j] = np.where(strong, np.sign(pred), 0.0)
    matrix = _sized(cfg, setup, matrix)
    best = len(result.outputs) - 1  # the ensemble when enabled, else the last model
    folds = []
    for fold in result.plan.folds:
        start, end = max(fold.test_start, setup.start_bar), min(fold.test_end, setup.end_bar)
        if end <= start:
            continue
        folds.append(FoldChoice(fold.index, fold.fit_start, fold.val_end - 1, start, end, best, float("nan"),
                                result.outputs[best]))  # fmt: skip
    if not folds:
        raise DataError(
            "no forecast fold tests a bar of backtest.start..backtest.end: start later or load more"
        )
    return matrix, list(result.outputs), folds
