"""`asterrl forecast`, then `asterrl train forecast.artifacts=DIR`: PPO trains on forecast columns."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

SYNTHETIC = ["data=synthetic", "data.start=2023-01-01", "data.end=2023-05-01"]


@pytest.mark.slow
def test_asterrl_train_with_forecast_columns_in_the_observation(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    artifacts = tmp_path / "fc"
    made = cli(
        "forecast", *SYNTHETIC, "forecast=tiny", "forecast.models=[xgboost]", "-o", artifacts, "--quiet"
    )
    assert made.code == 0, made.err
    trained = cli(
        "train", *SYNTHETIC, "experiment=smoke", "agent=sb3_ppo_tiny", f"forecast.artifacts={artifacts}"
    )
    assert trained.code == 0, trained.err
    run_dir = Path(os.environ["ASTERRL_HOME"]) / "runs" / "smoke-synthetic" / "sb3_ppo-s0"
    record = json.loads((run_dir / "run.json").read_text())
    forecast_columns = [c for c in record["observation_features"] if c.startswith("fc")]
    assert forecast_columns == [
        f"fc{h}_{m}_{k}" for h in [4] for m in ("xgboost", "ensemble") for k in ("ret", "up")
    ]
    assert (run_dir / "checkpoints" / "final").exists()
