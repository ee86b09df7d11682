"""FeaturePipeline: Hydra configs, warm-up, fitted/rolling normalisation, JSON save/reload and errors."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view as windows
from omegaconf import OmegaConf

from asterrl.errors import ConfigError, DataError
from asterrl.features import (
    FeaturePipeline,
    FeaturesConfig,
    FeatureSpec,
    MarketInputs,
    NormalizationConfig,
    NormalizationMode,
    iter_features,
)

CONF = Path(__file__).resolve().parents[2] / "conf" / "features"


def _load(name: str) -> FeaturesConfig:
    merged = OmegaConf.merge(OmegaConf.structured(FeaturesConfig), OmegaConf.load(CONF / f"{name}.yaml"))
    config = OmegaConf.to_object(merged)
    assert isinstance(config, FeaturesConfig)
    return config


def test_default_set_is_a_compact_finite_observation(market: MarketInputs) -> None:
    pipeline = FeaturePipeline.from_config(_load("default"))
    assert 16 <= len(pipeline.columns) <= 32
    matrix = pipeline.fit_transform(market, stop=800)
    assert matrix.values.dtype == np.float32 and matrix.values.shape == (market.n_bars, len(pipeline.columns))
    assert matrix.warmup == max(spec.warmup for spec in pipeline.specs) == 128 + 16 - 1
    assert np.isfinite(matrix.values[matrix.warmup :]).all()
    assert np.isnan(matrix.values[matrix.warmup - 1]).any()
    assert np.abs(matrix.values[matrix.warmup :]).max() <= 5.0
    frame = matrix.to_frame()
    assert list(frame.columns) == ["timestamp", *pipeline.columns]
    np.testing.assert_array_equal(frame["timestamp"].to_numpy(), market.timestamp)


def test_full_set_covers_the_registry(market: MarketInputs) -> None:
    config = _load("full")
    assert {item.name for item in config.features} == {d.name for d in iter_features()}
    pipeline = FeaturePipeline.from_config(config)
    assert len(pipeline.columns) == sum(len(d.outputs) for d in iter_features())
    matrix = pipeline.transform(market)
    assert np.isfinite(matrix.values[pipeline.warmup :]).all()


def test_fitted_statistics_come_from_the_training_span_only(market: MarketInputs) -> None:
    specs = [FeatureSpec.create("rsi"), FeatureSpec.create("sma", {"period": 10}, relative=True)]
    config = NormalizationConfig(mode=NormalizationMode.FITTED, clip=3.0)
    stop = 600
    pipeline = FeaturePipeline(specs, config).fit(market, stop=stop)
    raw = FeaturePipeline(specs).transform(market).values.astype(np.float64)
    raw64 = np.column_stack([v for spec in specs for _, v, _ in spec.compute(market)])
    start = pipeline.feature_warmup
    assert pipeline.stats is not None
    np.testing.assert_allclose(pipeline.stats.mean, raw64[start:stop].mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(pipeline.stats.std, raw64[start:stop].std(axis=0), rtol=1e-12)
    # sma relative = sma / close - 1
    c = market.close
    sma10 = np.r_[np.full(9, np.nan), windows(c, 10).mean(1)]
    np.testing.assert_allclose(raw[:, 1], sma10 / c - 1, rtol=1e-5, atol=1e-7)
    expected = np.clip((raw64 - pipeline.stats.mean) / pipeline.stats.std, -3, 3).astype(np.float32)
    np.testing.assert_allclose(pipeline.transform(market).values, expected, rtol=1e-6, atol=1e-6)
    # Data after the training span does not move the statistics.
    later = replace(market, close=np.r_[market.close[:stop], market.close[stop:] * 2.0])
    refit = FeaturePipeline(specs, config).fit(later, stop=stop)
    assert refit.stats is not None
    np.testing.assert_array_equal(refit.stats.mean, pipeline.stats.mean)


def test_rolling_normalisation_is_a_trailing_zscore(market: MarketInputs) -> None:
    pipeline = FeaturePipeline(
        [FeatureSpec.create("rsi")], NormalizationConfig(NormalizationMode.ROLLING, 50, 0.0)
    )
    got = pipeline.transform(market).values[:, 0]
    raw = next(FeatureSpec.create("rsi").compute(market))[1][14:]
    z = (raw[49:] - windows(raw, 50).mean(1)) / windows(raw, 50).std(1)
    assert pipeline.warmup == 14 + 49
    np.testing.assert_allclose(got[pipeline.warmup :], z, rtol=1e-5, atol=1e-5)
    assert np.isnan(got[: pipeline.warmup]).all()


def test_save_and_reload_rebuild_identical_columns(tmp_path: Path, market: MarketInputs) -> None:
    pipeline = FeaturePipeline.from_config(_load("default")).fit(market, stop=700)
    path = pipeline.save(tmp_path / "model" / "features.json")
    payload = json.loads(path.read_text())
    assert payload["columns"] == list(pipeline.columns) and payload["normalization"]["mode"] == "fitted"
    reloaded = FeaturePipeline.load(path)
    assert reloaded.columns == pipeline.columns and reloaded.warmup == pipeline.warmup
    np.testing.assert_array_equal(reloaded.transform(market).values, pipeline.transform(market).values)


def test_errors_are_one_line(market: MarketInputs, tmp_path: Path) -> None:
    no_taker = replace(market, taker_buy_volume=None)
    with pytest.raises(DataError, match="taker_imbalance needs taker_buy_volume"):
        FeaturePipeline([FeatureSpec.create("taker_imbalance")]).transform(no_taker)
    with pytest.raises(ConfigError, match="call fit"):
        FeaturePipeline([FeatureSpec.create("rsi")], NormalizationConfig(NormalizationMode.FITTED)).transform(
            market
        )
    with pytest.raises(ConfigError, match="duplicate feature columns"):
        FeaturePipeline([FeatureSpec.create("rsi"), FeatureSpec.create("rsi")])
    with pytest.raises(ConfigError, match="relative=true"):
        FeatureSpec.create("rsi", relative=True)
    with pytest.raises(ConfigError, match="outputs"):
        FeatureSpec.create("bbands", outputs=["width"])
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        FeaturePipeline.load(bad)
