"""``asterrl compare`` reports beside each agent the trials behind its number and whether it survives."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

DATA = ["data=synthetic", "data.start=2022-01-01", "data.end=2022-06-01", "experiment.name=stats"]


@pytest.mark.slow
def test_compare_counts_the_trials_of_each_agent_kind(cli, _isolated_home: Path) -> None:  # type: ignore[no-untyped-def]
    grid = cli("backtest", "agent=vol_trend", *DATA, "+backtest.grid.entry_window=[24,48,96]",
               "backtest.bootstrap_samples=50", "backtest.montecarlo_paths=20", "--no-progress")  # fmt: skip
    assert grid.code == 0, grid.err
    done = cli("compare", *DATA, "experiment.agents=[vol_trend,buy_and_hold]", "train.progress=false")
    assert done.code == 0, done.err
    report_dir = _isolated_home / "runs" / "stats-synthetic" / "report"  # synthetic data: apart
    table = pd.read_csv(report_dir / "survival.csv").set_index("name")
    # vol_trend: its 3 grid settings and this compare; buy_and_hold: this compare alone
    assert table.loc["vol_trend", "trials"] == 4
    assert table.loc["buy_and_hold", "trials"] == 1
    for column in ("sharpe_low", "sharpe_high", "psr", "dsr", "survives"):
        assert column in table.columns
    report = (report_dir / "report.md").read_text()
    assert "| vol_trend | 4 |" in report and "| buy_and_hold | 1 |" in report
