"""The overfitting statistics beside each agent of ``asterrl compare``: every compared run is recorded as a
trial of its agent kind's study, and each is reported with the trials behind it (its sweeps, backtests and
walk-forward grids on the same symbol and interval) and whether it survives them."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from asterrl.backtest.metrics import bars_per_year_of, simple_returns
from asterrl.backtest.survival import Survival, survival, survival_frame, survival_markdown
from asterrl.backtest.trials import TrialLog, study_name
from asterrl.files import atomic_write
from experiments.training.rundir import experiment_dir


def compare_survival(
    runs: Sequence[tuple[str, str, Any, Any]], cfg: Any, symbol: str, report_dir: Path
) -> list[str]:
    """Record each ``(name, kind, agent config, Evaluation)`` as a trial, write ``survival.csv`` into
    ``report_dir`` and return the report's lines (a heading and a Markdown table)."""
    root = experiment_dir(cfg) / "trials"
    rows: list[Survival] = []
    for name, kind, agent, evaluation in runs:
        trace = evaluation.trace
        returns = simple_returns(trace.equity)
        log = TrialLog(root, study_name(kind, symbol, cfg.data.interval))
        params = {"agent": dataclasses.asdict(agent), "run": name, "split": cfg.experiment.test_split}
        log.record(name, params, trace.timestamps[1:], returns, "compare")
        bpy = bars_per_year_of(trace.timestamps)
        rows.append(survival(name, returns, bpy, log.trial_set(trace.timestamps[1:]), seed=cfg.seed))
    frame: pd.DataFrame = survival_frame(rows)
    atomic_write(report_dir / "survival.csv", frame.to_csv())
    head = (
        "Trials behind each number and whether it survives them (DSR >= 0.95 and PBO < 0.5), counting the "
        "trials of the same agent kind on this symbol and interval (sweeps, backtests, walk-forward grids, "
        "compares):"
    )
    return ["", head, "", *survival_markdown(rows)]
