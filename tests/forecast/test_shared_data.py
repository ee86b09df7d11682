"""On the shared BTCUSDT 1h perpetual: every fold scores every model beside both naive baselines."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from asterrl.data.config import DataConfig, FilesConfig, SourceName
from asterrl.features import FeaturesConfig, FeatureSpecConfig
from asterrl.forecast import train_forecasts

from .conftest import tiny_config

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


@pytest.mark.slow
@pytest.mark.shared_data
def test_fold_metrics_beside_baselines_on_shared_btc(tmp_path: Path) -> None:
    ohlcv = SHARED / "perp_ohlcv" / "BTCUSDT_1h.csv.gz"
    if not ohlcv.exists():
        pytest.skip(f"shared data not found at {SHARED}")
    data = DataConfig(
        source=SourceName.FILE, fallback=[], start="2023-01-01", end="2024-01-01", with_funding=False,
        with_mark=False, files=FilesConfig(ohlcv=str(ohlcv)),
    )  # fmt: skip
    features = FeaturesConfig(
        features=[
            FeatureSpecConfig(name="log_return", params={"lag": 1}),
            FeatureSpecConfig(name="log_return", params={"lag": 24}),
            FeatureSpecConfig(name="natr", params={"period": 14}),
            FeatureSpecConfig(name="volume_zscore", params={"window": 24}),
        ]
    )
    run = train_forecasts(data, features, tiny_config(), seed=0, output_dir=tmp_path / "btc")
    result = run.result
    # labels recomputed from the raw file, independently of the package
    raw = pd.read_csv(ohlcv)
    raw = raw[(raw["timestamp"] >= result.timestamp[0]) & (raw["timestamp"] <= result.timestamp[-1])]
    close = raw["close"].to_numpy()
    label = np.r_[np.log(close[3:] / close[:-3]), [np.nan] * 3]
    trailing = np.r_[[np.nan] * 3, np.log(close[3:] / close[:-3])]
    np.testing.assert_allclose(result.label, label, rtol=1e-12)
    by_fold: dict[int, dict[str, dict[str, float]]] = {}
    for item in result.fold_metrics:
        by_fold.setdefault(item["fold"], {})[item["model"]] = item
    assert sorted(by_fold) == [0, 1, 2]
    for fold in result.plan.folds:
        items = by_fold[fold.index]
        assert set(items) == {*result.outputs, "last_sign", "zero"}
        y = label[fold.test_start : fold.test_end]
        y = y[np.isfinite(y)]
        assert items["zero"]["rmse"] == pytest.approx(math.sqrt(np.mean(y**2)))
        assert items["zero"]["log_loss"] == pytest.approx(math.log(2))
        f = trailing[fold.test_start : fold.test_start + y.size]
        keep = (f != 0) & (y != 0)
        assert items["last_sign"]["directional_accuracy"] == pytest.approx(
            np.mean(np.sign(f[keep]) == np.sign(y[keep]))
        )
        for name in result.outputs:
            for metric in ("directional_accuracy", "information_coefficient", "rmse", "log_loss"):
                assert math.isfinite(items[name][metric])
