"""Each base model learns a planted signal, and reloads to identical forecasts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from asterrl.forecast.metrics import directional_accuracy, log_loss
from asterrl.forecast.models import TrainingSet, build_model, load_model

from .conftest import tiny_config


def _planted(n: int = 1500, seed: int = 0) -> TrainingSet:
    """Label = 0.01 * feature 0 (one bar earlier for the window models too) plus small noise."""
    rng = np.random.default_rng(seed)
    design = rng.normal(size=(n, 4)).astype(np.float32)
    label = 0.01 * design[:, 0].astype(np.float64) + rng.normal(0, 0.002, n)
    rows = np.arange(8, n, dtype=np.int64)
    return TrainingSet(
        design, label, rows[:1000], rows[1000:1200], ("a", "b", "c", "d"), 8, float(label.std())
    )


@pytest.mark.parametrize("name", ["lstm", "cnn", "xgboost", "random_forest", "gbm"])
def test_model_learns_and_round_trips(name: str, tmp_path: Path) -> None:
    cfg = tiny_config()
    for net in (cfg.lstm, cfg.cnn):
        net.hidden, net.epochs, net.patience, net.max_samples_per_epoch, net.lr = 16, 20, 5, 0, 5e-3
    data = _planted()
    model = build_model(name, cfg)
    model.fit(data, seed=1)
    test = np.arange(1200, 1500, dtype=np.int64)
    prediction = model.predict(data.design, test)
    y = data.label[test]
    # the signal explains ~96 % of the variance: far above the 50 % of a coin
    assert directional_accuracy(prediction.ret, y) > 0.8
    assert log_loss(prediction.p_up, (y > 0).astype(float)) < np.log(2.0)
    model.save(tmp_path)
    again = load_model(tmp_path, name, "cpu")
    reloaded = again.predict(data.design, test)
    np.testing.assert_allclose(reloaded.ret, prediction.ret, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(reloaded.p_up, prediction.p_up, rtol=1e-6, atol=1e-9)
    gains = model.gain_importance()
    if gains is not None:
        assert max(gains, key=lambda c: gains[c]) == "a"
