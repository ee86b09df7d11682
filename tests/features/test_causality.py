"""Causality: for every registered column, changing any data after bar t leaves every value at or before t
unchanged (bars, taker flow, later funding settlements and the reference symbol alike)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from asterrl.features import (
    FeatureDef,
    FeaturePipeline,
    FeatureSpec,
    MarketInputs,
    NormalizationConfig,
    iter_features,
)
from asterrl.features.config import NormalizationMode
from tests.features.conftest import synthetic_bars

CUTS = (40, 129, 300, 611, 1100)


def _perturb_after(inputs: MarketInputs, t: int, seed: int) -> MarketInputs:
    """Replace everything after bar t (and funding settled after bar t's close) with other valid data."""
    other = synthetic_bars(inputs.n_bars, seed)
    changes: dict[str, np.ndarray] = {}
    scale = inputs.close[t] / other["close"][t]
    for name in ("open", "high", "low", "close"):
        values = getattr(inputs, name).copy()
        values[t + 1 :] = other[name][t + 1 :] * scale * 1.37
        changes[name] = values
    for name in ("volume", "taker_buy_volume"):
        values = getattr(inputs, name).copy()
        values[t + 1 :] = other[name][t + 1 :] * 3.0
        changes[name] = values
    assert inputs.reference_close is not None and inputs.funding_rate is not None
    reference = inputs.reference_close.copy()
    reference[t + 1 :] *= np.exp(np.random.default_rng(seed).normal(0.0, 0.05, reference.shape[0] - t - 1))
    changes["reference_close"] = reference
    rates = inputs.funding_rate.copy()
    later = inputs.funding_timestamp > inputs.close_time[t]
    rates[later] = -rates[later] * 7.0 + 0.003
    changes["funding_rate"] = rates
    return replace(inputs, **changes)  # type: ignore[arg-type]


def _assert_prefix_equal(name: str, before: np.ndarray, after: np.ndarray, t: int) -> None:
    np.testing.assert_array_equal(
        before[: t + 1], after[: t + 1], err_msg=f"{name} changed at or before bar {t}"
    )


@pytest.mark.parametrize("definition", list(iter_features()), ids=lambda d: d.name)
def test_feature_ignores_the_future(market: MarketInputs, definition: FeatureDef) -> None:
    spec = FeatureSpec.create(definition.name)
    baseline = {column: values for column, values, _ in spec.compute(market)}
    for k, t in enumerate(CUTS):
        changed_inputs = _perturb_after(market, t, seed=100 + k)
        changed = {column: values for column, values, _ in spec.compute(changed_inputs)}
        for column, values in baseline.items():
            _assert_prefix_equal(column, values, changed[column], t)
        assert (
            any(
                not np.array_equal(baseline[c][t + 1 :], changed[c][t + 1 :], equal_nan=True)
                for c in baseline
            )
            or definition.family == "time"
        ), f"{definition.name}: perturbation after bar {t} changed nothing"


@pytest.mark.parametrize("definition", list(iter_features()), ids=lambda d: d.name)
def test_truncated_history_gives_the_same_values(market: MarketInputs, definition: FeatureDef) -> None:
    """Computing on bars[:t+1] alone (what live trading sees at t) reproduces the full-history values."""
    spec = FeatureSpec.create(definition.name)
    full = {column: values for column, values, _ in spec.compute(market)}
    for t in CUTS:
        head = {column: values for column, values, _ in spec.compute(market.head(t + 1))}
        for column, values in full.items():
            _assert_prefix_equal(column, values, head[column], t)


def test_rolling_normalised_pipeline_is_causal(market: MarketInputs) -> None:
    specs = [FeatureSpec.create(d.name) for d in iter_features()]
    pipeline = FeaturePipeline(
        specs, NormalizationConfig(mode=NormalizationMode.ROLLING, window=50, clip=4.0)
    )
    before = pipeline.transform(market).values
    t = 700
    after = pipeline.transform(_perturb_after(market, t, seed=5)).values
    np.testing.assert_array_equal(before[: t + 1], after[: t + 1])
    assert not np.array_equal(before[t + 1 :], after[t + 1 :])
