"""The train, evaluate and compare commands through the ``asterrl`` entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments.training.tensorboard import read_scalars


def test_train_rejects_a_rule_agent(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("train", "agent=grid", "data=synthetic")
    assert result.code != 0 and "rule-based" in result.err and "Traceback" not in result.err


def test_evaluate_needs_a_checkpoint(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("evaluate").code != 0
    result = cli("evaluate", f"checkpoint={tmp_path}")
    assert result.code != 0 and "not an asterrl checkpoint" in result.err


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
    for name in ("ppo-s0", "sb3_ppo-s0", "buy_and_hold", "grid", "vol_trend", "hybrid", "demark"):
        assert f"| {name} |" in report
        assert (root / "tensorboard" / "compare" / name).is_dir()
    assert (root / "report" / "equity.png").stat().st_size > 0
    assert (root / "report" / "drawdown.png").stat().st_size > 0
    # each trained agent's training and validation curves lie side by side under the same tags and steps
    for run in ("ppo-s0", "sb3_ppo-s0"):
        validation = read_scalars(root / "tensorboard" / run / "validation")["trading/sharpe"]
        training = read_scalars(root / "tensorboard" / run / "train")["trading/sharpe"]
        assert [step for step, _ in validation] == [step for step, _ in training] and validation
