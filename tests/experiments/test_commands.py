"""The train, evaluate and compare commands through the ``asterrl`` entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agents.rllib.config import learner_gpus
from agents.sb3.ppo import torch_device
from asterrl.errors import ConfigError


def test_learner_device_decision() -> None:
    assert learner_gpus("auto", cuda_available=True) == 1
    assert learner_gpus("auto", cuda_available=False) == 0
    assert learner_gpus("cpu", cuda_available=True) == 0
    assert torch_device("auto", cuda_available=True) == "cuda"
    assert torch_device("auto", cuda_available=False) == "cpu"
    with pytest.raises(ConfigError):
        learner_gpus("cuda", cuda_available=False)


def test_train_rejects_a_rule_agent(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("train", "agent=grid", "data=synthetic")
    assert result.code != 0 and "rule-based" in result.err and "Traceback" not in result.err


def test_evaluate_needs_a_checkpoint(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("evaluate").code != 0
    result = cli("evaluate", f"checkpoint={tmp_path}")
    assert result.code != 0 and "not an asterrl checkpoint" in result.err


@pytest.mark.slow
def test_multirun_sweeps_the_learning_rate(_isolated_home: Path) -> None:
    # In a subprocess: Hydra's multirun reconfigures logging, which pytest's output capture does not survive.
    args = [
        "train",
        "-m",
        "data=synthetic",
        "experiment=smoke",
        "agent=sb3_ppo_tiny",
        "train.iterations=1",
        "agent.lr=1e-4,3e-4",
        "train.progress=false",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "experiments.cli", *args],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        env=os.environ.copy(),
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    runs = sorted(p.name for p in (_isolated_home / "runs" / "smoke").iterdir() if p.name.startswith("sb3"))
    assert runs == ["sb3_ppo-s0-agent.lr=0.0001", "sb3_ppo-s0-agent.lr=0.0003"]


@pytest.mark.slow
@pytest.mark.shared_data
def test_compare_on_shared_data_writes_report_and_one_run_per_agent(
    cli, shared_data: Path, _isolated_home: Path
) -> None:  # type: ignore[no-untyped-def]
    # XRPUSDT (0.3-2 USDT, tick 0.0001): the instrument data.symbol selects runs and is recorded.
    result = cli("compare", "experiment=smoke", "data=shared", "data.symbol=XRPUSDT", "train.progress=false")
    assert result.code == 0, result.err
    root = _isolated_home / "runs" / "smoke"
    report = (root / "report" / "report.md").read_text()
    assert "instrument XRPUSDT (tick 0.0001, lot 0.1" in report
    recorded = json.loads((root / "report" / "run.json").read_text())["instrument"]
    assert (recorded["symbol"], recorded["tick_size"], recorded["step_size"]) == ("XRPUSDT", 0.0001, 0.1)
    trained = json.loads((root / "ppo-s0" / "run.json").read_text())["instrument"]
    assert trained["symbol"] == "XRPUSDT" and trained["min_notional"] == 5.0
    for name in (
        "ppo-s0",
        "sb3_ppo-s0",
        "buy_and_hold-s0",
        "grid-s0",
        "vol_trend-s0",
        "hybrid-s0",
        "demark-s0",
    ):
        assert f"| {name} |" in report
        assert (root / "tensorboard" / "compare" / name).is_dir()
    assert (root / "report" / "equity.png").stat().st_size > 0
    assert (root / "report" / "drawdown.png").stat().st_size > 0
