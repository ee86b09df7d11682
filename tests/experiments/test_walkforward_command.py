"""``asterrl walkforward`` as a user runs it: a rule grid, forecasters and a PPO fine-tune fitted fold by
fold, the stitched out-of-sample account, the per-fold table and figure in the report."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

DATA = ["data=synthetic", "data.start=2022-01-01", "data.end=2022-07-01"]
FAST = ["backtest.bootstrap_samples=50", "backtest.montecarlo_paths=20", "--no-progress"]


def _out(stdout: str) -> Path:
    return Path(next(x for x in stdout.splitlines() if x.startswith("files:")).split()[1])


@pytest.mark.slow
def test_walkforward_of_a_rule_grid_writes_folds_and_counts_every_setting(cli) -> None:  # type: ignore[no-untyped-def]
    done = cli("walkforward", "agent=sma_cross", *DATA, *FAST, "walkforward.n_folds=3", "walkforward.purge=6",
               "+backtest.grid={fast:[6,24],slow:[48,168]}")  # fmt: skip
    assert done.code == 0, done.err
    assert "trials        4 in sma_cross-walkforward/BTCUSDT-1h" in done.out
    out = _out(done.out)
    folds = pd.read_csv(out / "folds.csv")
    assert list(folds["fold"]) == [1, 2, 3] and folds["choice"].str.startswith("sma_cross(fast=").all()
    equity = pd.read_csv(out / "equity.csv")
    start = pd.Timestamp(folds["test"].iloc[0].split("..")[0], tz="UTC")
    assert pd.Timestamp(equity["time"].iloc[0]).normalize() == start  # it starts at the first test window
    report = (out / "report" / "report.md").read_text()
    assert "## Walk-forward folds" in report and (out / "report" / "folds.png").stat().st_size > 0
    assert (
        "folds.png" in (out / "report" / "report.html").read_text()
        or "data:image/png" in (out / "report" / "report.html").read_text()
    )
    halted = cli("walkforward", "agent=sma_cross", *DATA, *FAST, "walkforward.n_folds=3",
                 "risk.max_drawdown=0.02", "+backtest.grid={fast:[6,24],slow:[48,168]}")  # fmt: skip
    assert halted.code == 0, halted.err
    assert "(risk.max_drawdown=0.02): flat from there" in halted.out  # the limit that fired, by its key
    folds = pd.read_csv(_out(halted.out) / "folds.csv")
    idle = folds[folds["fills"] == 0]["fold"].tolist()
    assert idle and f"folds {idle[0]}..{idle[-1]} were not traded" in halted.out


@pytest.mark.slow
def test_walkforward_of_forecasters_and_of_a_ppo_fine_tune(cli, _isolated_home: Path) -> None:  # type: ignore[no-untyped-def]
    forecast = cli(
        "walkforward", "walkforward.fit=forecast", "forecast=tiny", "walkforward.n_folds=2", *DATA, *FAST
    )
    assert forecast.code == 0, forecast.err
    assert "chose ensemble in every fold" in forecast.out
    trained = cli("train", "agent=sb3_ppo_tiny", "experiment=smoke", *DATA, "train.progress=false")
    assert trained.code == 0, trained.err
    checkpoint = _isolated_home / "runs" / "smoke-synthetic" / "sb3_ppo-s0" / "checkpoints" / "final"
    plain = cli("backtest", f"backtest.checkpoint={checkpoint}", "backtest.start=2022-03-01", *FAST)
    assert plain.code == 0, plain.err
    assert "sb3_ppo on BTCUSDT: 2022-03-01 00:00" in plain.out
    tuned = cli("walkforward", "walkforward.fit=ppo", f"backtest.checkpoint={checkpoint}",
                "walkforward.n_folds=2", "walkforward.ppo_iterations=1", *FAST)  # fmt: skip
    assert tuned.code == 0, tuned.err
    folds = pd.read_csv(_out(tuned.out) / "folds.csv")
    assert list(folds["choice"]) == ["fine-tune 1", "fine-tune 2"]


def test_walkforward_refuses_what_it_cannot_fit_in_one_line(cli) -> None:  # type: ignore[no-untyped-def]
    done = cli("walkforward", "walkforward.fit=ppo", *DATA, *FAST)
    assert done.code != 0 and "fine-tunes backtest.checkpoint=PATH" in done.err
    done = cli("walkforward", "agent=vol_trend", "walkforward.scheme=expanding", *DATA, *FAST)
    assert done.code != 0 and "walkforward.scheme='expanding'" in done.err
