"""The artifact directory, the live Forecaster, the observation columns and the ``asterrl forecast`` CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from asterrl.data.market import MarketData
from asterrl.features import FeaturesConfig, FeatureSpecConfig, MarketInputs
from asterrl.features.matrix import FeatureMatrix
from asterrl.forecast import FoldPlan, Forecaster, forecast_features, read_oof, train_forecasts
from asterrl.forecast.config import FinalModels
from asterrl.forecast.observation import append_columns, with_forecasts

from .conftest import tiny_config

FEATURES = FeaturesConfig(
    features=[
        FeatureSpecConfig(name="log_return", params={"lag": 1}),
        FeatureSpecConfig(name="rsi", params={"period": 14}),
        FeatureSpecConfig(name="natr", params={"period": 14}),
        FeatureSpecConfig(name="hour_of_day"),
    ]
)


@pytest.fixture(scope="module")
def artifact(synthetic_market: MarketData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = tiny_config()
    cfg.importance.enabled = True
    cfg.importance.max_rows = 100
    run = train_forecasts(
        synthetic_market, FEATURES, cfg, seed=2, output_dir=tmp_path_factory.mktemp("fc") / "a"
    )
    return run.directory


def test_directory_layout_and_plan(artifact: Path) -> None:
    for name in (
        "forecast.json",
        "fold_plan.json",
        "features.json",
        "oof.parquet",
        "metrics.json",
        "report.md",
    ):
        assert (artifact / name).is_file(), name
    manifest = json.loads((artifact / "forecast.json").read_text())
    plan = FoldPlan.from_dict(json.loads((artifact / "fold_plan.json").read_text()))
    assert len(plan.folds) == 3 and manifest["final_dir"] == "fold_02"
    for fold in plan.folds:
        folder = artifact / "models" / f"fold_{fold.index:02d}"
        assert {p.name for p in folder.iterdir()} >= {
            "scaler.json", "ensemble.json", "lstm.pt", "cnn.pt", "xgboost_ret.json", "gbm_up.json",
            "random_forest_ret.json",
        }  # fmt: skip
    oof = read_oof(artifact)
    first = plan.first_test_row
    assert oof["lstm_ret"].iloc[:first].isna().all()
    assert oof[[c for c in oof.columns if c.endswith(("_ret", "_p_up"))]].iloc[first:].notna().all().all()
    assert oof["fold"].iloc[first:].tolist() == [
        f.index for f in plan.folds for _ in range(f.test_start, f.test_end)
    ]
    # every model and both baselines are reported per fold
    report = (artifact / "report.md").read_text()
    assert "last_sign (baseline)" in report and "zero (baseline)" in report and "permutation" in report


def test_pooled_metrics_recomputed_independently(artifact: Path) -> None:
    oof = read_oof(artifact)
    metrics = json.loads((artifact / "metrics.json").read_text())
    rows = oof[(oof["fold"] >= 0) & oof["label"].notna()]
    y = rows["label"].to_numpy()
    pooled = {m["model"]: m for m in metrics["pooled_metrics"]}
    assert pooled["zero"]["rmse"] == pytest.approx(math.sqrt(np.mean(y**2)))
    assert pooled["zero"]["log_loss"] == pytest.approx(math.log(2))
    f = rows["xgboost_ret"].to_numpy(np.float64)
    assert pooled["xgboost"]["rmse"] == pytest.approx(math.sqrt(np.mean((f - y) ** 2)), rel=1e-5)
    hits = np.mean(np.sign(f[(f != 0) & (y != 0)]) == np.sign(y[(f != 0) & (y != 0)]))
    assert pooled["xgboost"]["directional_accuracy"] == pytest.approx(hits, rel=1e-6)


def test_tensorboard_scalars(artifact: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(artifact / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"fold/information_coefficient/lstm", "fold/rmse/zero", "pooled/log_loss/ensemble"} <= tags
    assert [e.step for e in events.Scalars("fold/rmse/gbm")] == [0, 1, 2]


def test_live_forecast_matches_the_last_fold(artifact: Path, synthetic_market: MarketData) -> None:
    """The final (last-fold) models, fed the history up to bar t, reproduce the out-of-fold forecast at t."""
    forecaster = Forecaster.load(artifact, device="cpu")
    oof = read_oof(artifact)
    bars = synthetic_market.bars
    for t in (len(bars) - 40, len(bars) - 1):
        frame = forecaster.predict_frame(bars.iloc[: t + 1], last=1)
        assert frame["timestamp"].iloc[0] == bars["timestamp"].iloc[t]
        for output in forecaster.outputs:
            for kind in ("ret", "p_up"):
                expected = float(oof[f"{output}_{kind}"].iloc[t])
                assert frame[f"{output}_{kind}"].iloc[0] == pytest.approx(expected, rel=1e-5, abs=1e-7)


def test_observation_columns_align_by_timestamp(artifact: Path, synthetic_market: MarketData) -> None:
    oof = read_oof(artifact)
    stamps = synthetic_market.bars["timestamp"].to_numpy()
    # a bar span that starts before the artifact and ends after it
    wanted = np.r_[stamps[0] - 7_200_000, stamps[0] - 3_600_000, stamps, stamps[-1] + 3_600_000]
    matrix = forecast_features(artifact, wanted, observe=["xgboost", "ensemble"])
    assert matrix.columns == ("fc3_xgboost_ret", "fc3_xgboost_up", "fc3_ensemble_ret", "fc3_ensemble_up")
    assert matrix.values.dtype == np.float32 and matrix.values.shape == (len(wanted), 4)
    assert np.isnan(matrix.values[:2]).all() and np.isnan(matrix.values[-1]).all()
    row = 2 + len(stamps) - 10
    expected_ret = oof["xgboost_ret"].iloc[len(stamps) - 10] / oof["label_scale"].iloc[len(stamps) - 10]
    assert matrix.values[row, 0] == pytest.approx(expected_ret, rel=1e-6)
    assert matrix.values[row, 3] == pytest.approx(
        2 * oof["ensemble_p_up"].iloc[len(stamps) - 10] - 1, rel=1e-6
    )
    base = FeatureMatrix(np.ones((len(wanted), 2), np.float32), ("a", "b"))
    joined = append_columns(base, matrix)
    assert joined.columns[:2] == ("a", "b") and joined.values.shape == (len(wanted), 6)
    cfg = tiny_config(artifacts=str(artifact), observe=["gbm"])
    assert with_forecasts(base, wanted, cfg).columns == ("a", "b", "fc3_gbm_ret", "fc3_gbm_up")
    assert with_forecasts(base, wanted, tiny_config()) is base


def test_refit_final_models(synthetic_market: MarketData, tmp_path: Path) -> None:
    cfg = tiny_config(models=["xgboost", "gbm"], final=FinalModels.REFIT)
    run = train_forecasts(synthetic_market, FEATURES, cfg, seed=2, output_dir=tmp_path / "refit")
    forecaster = Forecaster.load(run.directory)
    assert forecaster.manifest["final_dir"] == "final"
    inputs = MarketInputs.from_frames(synthetic_market.bars)
    observed = forecaster.observation(inputs, last=3)
    assert observed.values.shape == (3, 6) and np.isfinite(observed.values).all()
    gbm_only = forecaster.observation(inputs, last=3, observe=["gbm"])
    assert gbm_only.columns == ("fc3_gbm_ret", "fc3_gbm_up")
    np.testing.assert_array_equal(gbm_only.values, observed.values[:, 2:4])


def test_cli_writes_artifacts_and_rejects_bad_input(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "cli"
    common = ["data=synthetic", "data.start=2023-01-01", "data.end=2023-02-15", "forecast=tiny"]
    result = cli("forecast", *common, "forecast.models=[xgboost,gbm]", "forecast.window=8", "-o", str(out))
    assert result.code == 0, result.err
    assert (out / "report.md").is_file() and "zero" in result.out
    bad = cli("forecast", *common, "forecast.models=[prophet]", "-o", str(tmp_path / "bad"))
    assert bad.code != 0 and "prophet" in bad.err and "Traceback" not in bad.err
    assert len(bad.err.strip().splitlines()) == 1
    assert not (tmp_path / "bad").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".bad")]
