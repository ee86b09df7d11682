"""No out-of-fold forecast at or before bar t depends on any price (or label) after bar t."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from asterrl.data.market import MarketData
from asterrl.features import FeaturePipeline, FeaturesConfig, FeatureSpecConfig, MarketInputs
from asterrl.forecast.config import FoldScheme
from asterrl.forecast.run import raw_pipeline
from asterrl.forecast.walkforward import WalkForwardResult, run_walk_forward

from .conftest import tiny_config

FEATURES = FeaturesConfig(
    features=[
        FeatureSpecConfig(name="log_return", params={"lag": 1}),
        FeatureSpecConfig(name="log_return", params={"lag": 4}),
        FeatureSpecConfig(name="rsi", params={"period": 14}),
        FeatureSpecConfig(name="realized_vol", params={"window": 24}),
        FeatureSpecConfig(name="volume_zscore", params={"window": 24}),
    ]
)


def _walk(bars: pd.DataFrame, pipeline: FeaturePipeline, tmp: Path, scheme: FoldScheme) -> WalkForwardResult:
    cfg = tiny_config()
    cfg.folds.scheme = scheme
    inputs = MarketInputs.from_frames(bars)
    matrix = pipeline.transform(inputs)
    return run_walk_forward(
        matrix.values, matrix.columns, inputs.close, inputs.timestamp, pipeline.feature_warmup, cfg,
        tmp, seed=5,
    )  # fmt: skip


def _perturb_after(bars: pd.DataFrame, t: int, seed: int) -> pd.DataFrame:
    """Every price and volume after bar t scaled by random factors (bars stay consistent)."""
    rng = np.random.default_rng(seed)
    out = bars.copy()
    n_after = len(bars) - t - 1
    drift = np.exp(np.cumsum(rng.normal(0.0, 0.02, n_after)))
    for column in ("open", "high", "low", "close"):
        out.loc[t + 1 :, column] = bars.loc[t + 1 :, column].to_numpy() * drift
    out.loc[t + 1 :, "volume"] = bars.loc[t + 1 :, "volume"].to_numpy() * rng.uniform(0.5, 2.0, n_after)
    return out


@pytest.mark.parametrize("scheme", [FoldScheme.EXPANDING, FoldScheme.ROLLING])
def test_changing_the_future_changes_no_earlier_forecast(
    synthetic_market: MarketData, tmp_path_factory: pytest.TempPathFactory, scheme: FoldScheme
) -> None:
    pipeline, _ = raw_pipeline(FEATURES)
    bars = synthetic_market.bars[["timestamp", "open", "high", "low", "close", "volume"]].reset_index(
        drop=True
    )
    base = _walk(bars, pipeline, tmp_path_factory.mktemp("a"), scheme)
    fold = base.plan.folds[1]
    # the first bar of the second test span: the labels of the h - 1 bars before it change (they reach
    # past t), so this fails unless those training rows are purged; later features and labels change too
    t = fold.test_start
    changed = _walk(_perturb_after(bars, t, seed=11), pipeline, tmp_path_factory.mktemp("b"), scheme)
    upto = slice(0, t + 1)
    assert np.isfinite(base.ret[fold.test_start : t + 1]).all()
    np.testing.assert_array_equal(changed.ret[upto], base.ret[upto])
    np.testing.assert_array_equal(changed.p_up[upto], base.p_up[upto])
    # the perturbation is real: the labels at t and later forecasts differ
    assert changed.label[t] != base.label[t]
    later = slice(t + 1, None)
    assert not np.allclose(changed.ret[later], base.ret[later], equal_nan=True)


def test_changing_labels_after_t_changes_no_earlier_forecast(
    synthetic_market: MarketData, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Labels alone (features fixed): rewrite every label after t; forecasts up to t stay bit-identical."""
    pipeline, _ = raw_pipeline(FEATURES)
    bars = synthetic_market.bars[["timestamp", "open", "high", "low", "close", "volume"]].reset_index(
        drop=True
    )
    inputs = MarketInputs.from_frames(bars)
    matrix = pipeline.transform(inputs)
    cfg = tiny_config()
    args = (matrix.values, matrix.columns)
    warmup = pipeline.feature_warmup
    base = run_walk_forward(
        *args, inputs.close, inputs.timestamp, warmup, cfg, tmp_path_factory.mktemp("c"), seed=5
    )
    t = base.plan.folds[2].test_start
    # a close series whose forward returns differ from bar t on: only labels at rows >= t - h + 1 change
    close = inputs.close.copy()
    close[t + 1 :] *= np.exp(np.random.default_rng(4).normal(0, 0.05, close.shape[0] - t - 1))
    changed = run_walk_forward(
        *args, close, inputs.timestamp, warmup, cfg, tmp_path_factory.mktemp("d"), seed=5
    )
    np.testing.assert_array_equal(changed.ret[: t + 1], base.ret[: t + 1])
    np.testing.assert_array_equal(changed.p_up[: t + 1], base.p_up[: t + 1])
