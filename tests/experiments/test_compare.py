"""``asterrl compare`` reuses finished runs, names report rows as the run folders, never mixes data kinds."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from experiments.config import load_config
from experiments.training.rundir import experiment_dir
from experiments.training.tensorboard import read_scalars

AGENTS = "experiment.agents=[sb3_ppo_tiny,buy_and_hold,grid]"
SMALL = ["data=synthetic", "data.start=2023-01-01", "data.end=2023-04-01", "experiment=smoke", AGENTS]


def test_synthetic_and_real_data_runs_never_share_an_experiment_folder(_isolated_home: Path) -> None:
    real = experiment_dir(load_config(["data=shared_btcusdt_1h", "experiment=smoke"]))
    fetched = experiment_dir(load_config(["experiment=smoke"]))
    synthetic = experiment_dir(load_config(["data=synthetic", "experiment=smoke"]))
    assert real == fetched == _isolated_home / "runs" / "smoke"
    assert synthetic == _isolated_home / "runs" / "smoke-synthetic"


@pytest.mark.slow
def test_compare_reuses_a_finished_run_unless_told_to_retrain(cli, _isolated_home: Path) -> None:  # type: ignore[no-untyped-def]
    root = _isolated_home / "runs" / "smoke-synthetic"
    first = cli("compare", *SMALL, "--no-progress")
    assert first.code == 0, first.err
    runs = sorted(p.name for p in root.iterdir() if p.name.startswith("sb3_ppo"))
    assert runs == ["sb3_ppo-s0"]
    checkpoint = root / "sb3_ppo-s0" / "checkpoints" / "best"
    stamp = checkpoint.resolve().stat().st_mtime_ns
    table = pd.read_csv(root / "report" / "metrics.csv", index_col="agent")
    assert list(table.index) == ["sb3_ppo-s0", "buy_and_hold", "grid"]  # names of the run folders

    second = cli("compare", *SMALL, "--no-progress")
    assert second.code == 0, second.err
    assert sorted(p.name for p in root.iterdir() if p.name.startswith("sb3_ppo")) == runs  # nothing trained
    assert checkpoint.resolve().stat().st_mtime_ns == stamp
    report = (root / "report" / "report.md").read_text()
    assert "Reused finished runs of the same config and data: sb3_ppo-s0" in report
    again = pd.read_csv(root / "report" / "metrics.csv", index_col="agent")
    pd.testing.assert_frame_equal(again, table)  # the same checkpoint, the same bars: the same figures
    # one point per agent in TensorBoard's comparison runs, however often compare ran
    points = read_scalars(root / "tensorboard" / "compare" / "sb3_ppo-s0")["trading/net_return"]
    assert [step for step, _ in points] == [0]

    # another reward scale is another config: trained, in the next free folder, named so in the report
    other = cli("compare", *SMALL, "env.reward_scale=2", "--no-progress")
    assert other.code == 0, other.err
    retrained = cli("compare", *SMALL, "--retrain", "--no-progress")
    assert retrained.code == 0, retrained.err
    assert sorted(p.name for p in root.iterdir() if p.name.startswith("sb3_ppo")) == [
        "sb3_ppo-s0",
        "sb3_ppo-s0-2",
        "sb3_ppo-s0-3",
    ]
    table = pd.read_csv(root / "report" / "metrics.csv", index_col="agent")
    assert list(table.index) == ["sb3_ppo-s0-3", "buy_and_hold", "grid"]
    assert (root / "tensorboard" / "compare" / "sb3_ppo-s0-3").is_dir()
    # every trained run logged its training and validation curves side by side
    for run in ("sb3_ppo-s0", "sb3_ppo-s0-2", "sb3_ppo-s0-3"):
        board = root / "tensorboard" / run
        assert "trading/sharpe" in read_scalars(board / "validation")
        assert "trading/sharpe" in read_scalars(board / "train")
