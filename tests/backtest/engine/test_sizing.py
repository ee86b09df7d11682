"""Volatility targeting and Kelly sizing of a target series, against the closed forms they implement."""

from __future__ import annotations

import math

import numpy as np
import pytest

from asterrl.backtest.engine.sizing import VOLATILITY_WARMUP, SizingConfig, sized_targets
from asterrl.errors import ConfigError

BARS_PER_YEAR = 8760.0


def test_volatility_targeting_sizes_to_target_over_the_ewma_forecast_known_at_the_bar() -> None:
    # returns alternate +1 % / -1 %: the zero-mean EWMA variance is 1e-4 per bar from the first return on
    steps = np.where(np.arange(400) % 2 == 0, 1.01, 0.99)
    close = 100.0 * np.concatenate(([1.0], np.cumprod(steps)))
    targets = np.where(np.arange(close.size) < 200, 1.0, -0.5)
    cfg = SizingConfig(method="volatility", target_volatility=0.3)
    out = sized_targets(targets, close, cfg, position_scale=3.0, bars_per_year=BARS_PER_YEAR)
    vol = 0.01 * math.sqrt(BARS_PER_YEAR)  # 0.936 a year
    assert np.all(out[:VOLATILITY_WARMUP] == 0.0)
    np.testing.assert_allclose(out[VOLATILITY_WARMUP:200], 0.3 / vol / 3.0, rtol=1e-9)
    np.testing.assert_allclose(out[200:], -0.5 * 0.3 / vol / 3.0, rtol=1e-9)
    # a calmer market gets a larger position, capped at the scale
    calm = 100.0 * np.concatenate(([1.0], np.cumprod(1.0 + (steps - 1.0) / 100.0)))
    capped = sized_targets(np.ones(calm.size), calm, cfg, 3.0, BARS_PER_YEAR)
    assert np.all(capped[VOLATILITY_WARMUP:] == 1.0)


def test_volatility_forecast_does_not_look_ahead() -> None:
    rng = np.random.default_rng(1)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, 1000)))
    cfg = SizingConfig(method="volatility")
    full = sized_targets(np.ones(1000), close, cfg, 3.0, BARS_PER_YEAR)
    for cut in (40, 300, 777):
        np.testing.assert_array_equal(
            sized_targets(np.ones(cut), close[:cut], cfg, 3.0, BARS_PER_YEAR), full[:cut]
        )


def test_kelly_sizes_by_the_rolling_edge_of_the_strategy_and_never_flips_it() -> None:
    rng = np.random.default_rng(5)
    n, window = 3000, 500
    bar_returns = rng.normal(0.0004, 0.01, n)
    close = 100.0 * np.concatenate(([1.0], np.cumprod(1.0 + bar_returns)))
    targets = np.ones(n + 1)
    cfg = SizingConfig(method="kelly", kelly_fraction=0.5, kelly_window=window)
    out = sized_targets(targets, close, cfg, position_scale=10.0, bars_per_year=BARS_PER_YEAR)
    assert np.all(out[:window] == 0.0)  # no estimate yet
    for t in (window, 1234, n):
        unit = bar_returns[t - window : t]  # returns of bars t-window+1 .. t (held at unit size)
        expected = min(max(0.5 * unit.mean() / unit.var(ddof=1), 0.0), 10.0) / 10.0
        assert out[t] == pytest.approx(expected, rel=1e-9)
    losing = sized_targets(-targets, close, cfg, 10.0, BARS_PER_YEAR)  # short a rising market: no edge
    assert np.count_nonzero(losing[window:] > 0.0) == 0


def test_bad_sizing_settings_name_their_key() -> None:
    with pytest.raises(ConfigError, match=r"backtest\.sizing\.method"):
        SizingConfig(method="martingale").validate()
    with pytest.raises(ConfigError, match=r"backtest\.sizing\.kelly_fraction"):
        SizingConfig(kelly_fraction=1.5).validate()
