"""The fast code paths against independent brute-force references: block-wise rolling extremes (ties, NaN
prefixes, windows longer than the data), the Hurst slope where the variance-ratio product leaves the float
range, the memoised calendar phases at minute resolution, and one shared TD pass per pipeline run."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view as windows

from asterrl.features import FeaturePipeline, FeatureSpec, MarketInputs
from asterrl.features.kernels import demark
from asterrl.features.kernels.context import day_of_week, hour_of_day
from asterrl.features.kernels.rolling import rolling_extreme, rolling_max, rolling_min
from asterrl.features.kernels.statistics import hurst_exponent


def _brute_extreme(x: np.ndarray, window: int, is_max: bool) -> tuple[np.ndarray, np.ndarray]:
    n = x.shape[0]
    values = np.full(n, np.nan)
    where = np.full(n, -1)
    valid = np.flatnonzero(~np.isnan(x))
    start = valid[0] if valid.size else n
    for t in range(start + window - 1, n):
        span = x[t - window + 1 : t + 1]
        best = span.max() if is_max else span.min()
        values[t] = best
        where[t] = t - window + 1 + np.flatnonzero(span == best)[-1]
    return values, where


@pytest.mark.parametrize("seed", range(40))
def test_rolling_extremes_match_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 90))
    window = int(rng.integers(1, 15))
    x = np.round(rng.normal(size=n), 1)  # rounded: many ties
    x[: int(rng.integers(0, 6))] = np.nan
    for is_max in (True, False):
        values, where = rolling_extreme(x, window, is_max)
        expected_values, expected_where = _brute_extreme(x, window, is_max)
        np.testing.assert_array_equal(values, expected_values)
        np.testing.assert_array_equal(where, expected_where)
        plain = rolling_max(x, window) if is_max else rolling_min(x, window)
        np.testing.assert_array_equal(plain, expected_values)


def test_rolling_extremes_of_monotone_series() -> None:
    falling = -np.arange(500.0)
    np.testing.assert_array_equal(rolling_max(falling, 52)[51:], windows(falling, 52).max(axis=1))
    np.testing.assert_array_equal(rolling_min(-falling, 52)[51:], windows(-falling, 52).min(axis=1))


def test_hurst_where_the_variance_ratio_product_overflows() -> None:
    # x = t²: k-lag differences are 2kt − k², so over any window σ²_k = k²·σ²_1 and H = 1 exactly. With
    # lags up to 2^14 the product Π (σ²_k/σ²_1)^(2j − 14) over the lags above the middle is ~1e404, past the
    # float range: the kernel must fall back to summing logarithms.
    lags = 2 ** np.arange(15)
    powers = 2 * np.arange(15) - 14
    assert np.sum(powers[powers > 0] * np.log10(lags[powers > 0] ** 2.0)) > 308
    x = np.arange(16_384 + 400, dtype=np.float64) ** 2
    values = hurst_exponent(x, 300, 16_384)
    first = 300 + 16_384 - 1
    assert np.isnan(values[:first]).all()
    np.testing.assert_allclose(values[first:], 1.0, rtol=1e-9)


def test_calendar_phases_at_minute_resolution() -> None:
    # Two weeks of one-minute bars from an arbitrary minute: 20,160 distinct weekly phases, more than the
    # memo holds, so slots are overwritten and re-filled.
    stamps = 1_700_000_040_000 + 60_000 * np.arange(20_160, dtype=np.int64)
    day_fraction = (stamps % 86_400_000) / 86_400_000
    sin, cos = hour_of_day(stamps)
    np.testing.assert_allclose(sin, np.sin(2 * np.pi * day_fraction), atol=1e-12)
    np.testing.assert_allclose(cos, np.cos(2 * np.pi * day_fraction), atol=1e-12)
    week_fraction = ((stamps // 86_400_000 + 3) % 7 + day_fraction) / 7
    sin, cos = day_of_week(stamps)
    np.testing.assert_allclose(sin, np.sin(2 * np.pi * week_fraction), atol=1e-12)
    np.testing.assert_allclose(cos, np.cos(2 * np.pi * week_fraction), atol=1e-12)


def test_pipeline_runs_the_td_pass_once_and_keeps_nothing(
    market: MarketInputs, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    kernel = demark.td_sequential

    def counted(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> tuple[np.ndarray, ...]:
        calls.append(1)
        return kernel(high, low, close)

    monkeypatch.setattr(demark, "td_sequential", counted)
    specs = [FeatureSpec.create("td_sequential"), FeatureSpec.create("td_combo")]
    matrix = FeaturePipeline(specs).transform(market)
    assert len(calls) == 1
    separate = [values for spec in specs for _, values, _ in spec.compute(market)]
    assert len(calls) == 3  # outside a pipeline run nothing is memoised
    expected = np.column_stack(separate).astype(np.float32)
    undefined = np.isnan(expected) & (np.arange(market.n_bars)[:, None] >= 4)
    expected[undefined] = 0.0
    np.testing.assert_array_equal(matrix.values, expected)
