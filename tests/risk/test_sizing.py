"""Position sizing: Kelly stakes against numerical maximisation of the expected log growth, the published
60 % coin, and volatility targeting that delivers the targeted volatility."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from asterrl.errors import ConfigError, DataError
from asterrl.risk.sizing import (
    ewma_volatility_forecast,
    fractional_kelly,
    kelly_binary,
    kelly_continuous,
    kelly_from_returns,
    kelly_from_trades,
    volatility_target,
)


def _argmax_growth(growth: Callable[[float], float], lo: float, hi: float) -> float:
    """The stake in [lo, hi] maximising ``growth``, by bounded scalar minimisation of its negative."""
    res = minimize_scalar(lambda f: -growth(f), bounds=(lo, hi), method="bounded", options={"xatol": 1e-10})
    return float(res.x)


def test_kelly_for_the_sixty_percent_coin() -> None:
    """Haghani & Dewey (2016), "Rational decision-making under uncertainty: observed betting patterns on a
    biased coin": a coin landing heads 60 % of the time at even money; the Kelly stake is 20 %."""
    assert kelly_binary(0.6, 1.0) == pytest.approx(0.2)


@pytest.mark.parametrize(("p", "b"), [(0.6, 1.0), (0.55, 2.0), (0.3, 3.5), (0.45, 1.0)])
def test_binary_kelly_maximises_the_log_growth(p: float, b: float) -> None:
    """argmax_f p ln(1 + b f) + (1 - p) ln(1 - f), found numerically, is p - (1 - p)/b."""
    f = _argmax_growth(lambda f: p * math.log1p(b * f) + (1 - p) * math.log1p(-f), -0.99 / b, 0.99)
    assert kelly_binary(p, b) == pytest.approx(f, abs=1e-6)


def test_kelly_from_trades_scales_the_position_to_the_growth_optimum() -> None:
    """Trades of a 1x position win 2 % (55 %) or lose 1 % (45 %): the position multiple f maximising
    0.55 ln(1 + 0.02 f) + 0.45 ln(1 - 0.01 f) (numerically) is the full Kelly; half of it, capped at 50,
    is the target."""
    trades = np.array([0.02] * 55 + [-0.01] * 45)
    f = _argmax_growth(lambda f: 0.55 * math.log1p(0.02 * f) + 0.45 * math.log1p(-0.01 * f), 0.0, 99.0)
    sizing = kelly_from_trades(trades, fraction=0.5, max_leverage=50.0)
    assert sizing.full_kelly == pytest.approx(f, rel=1e-6)
    assert sizing.target == pytest.approx(f / 2, rel=1e-6) and not sizing.capped
    capped = kelly_from_trades(trades, fraction=0.5, max_leverage=3.0)
    assert capped.target == 3.0 and capped.capped
    assert kelly_from_trades([0.01, 0.02]).target == 0.0  # no loss: nothing to size from


def test_continuous_kelly_maximises_the_log_growth_of_small_returns() -> None:
    """Daily-like returns (mean 0.05 %, sd 1 %): the fraction maximising the sample's mean log(1 + f r)
    is mu / sigma^2 = 5 within 3 % (the continuous-time limit)."""
    rng = np.random.default_rng(0)
    r = rng.normal(0.0005, 0.01, 200_000)
    r = (r - r.mean()) / r.std() * 0.01 + 0.0005
    f = _argmax_growth(lambda f: float(np.mean(np.log1p(f * r))), 0.0, 20.0)
    assert kelly_continuous(0.0005, 0.01**2) == pytest.approx(5.0)
    assert kelly_continuous(0.0005, 0.01**2) == pytest.approx(f, rel=0.03)
    assert kelly_continuous(0.0005, 0.01**2, risk_free=0.0001) == pytest.approx(4.0)


def test_kelly_from_returns_shrinks_an_uncertain_edge() -> None:
    """With a 95 % lower bound on the mean the stake falls; an edge within its error bars sizes to 0."""
    rng = np.random.default_rng(1)
    strong = rng.normal(0.001, 0.01, 5000)
    plain = kelly_from_returns(strong, fraction=1.0, max_leverage=100.0)
    assert plain.full_kelly == pytest.approx(strong.mean() / strong.var(ddof=1))
    shrunk = kelly_from_returns(strong, fraction=1.0, max_leverage=100.0, confidence=0.95)
    assert 0.0 < shrunk.target < plain.target
    se = strong.std(ddof=1) / math.sqrt(strong.size)
    assert shrunk.edge == pytest.approx(strong.mean() - 1.6448536 * se, rel=1e-6)
    weak = rng.normal(0.0, 0.01, 100)
    weak = weak - weak.mean() + 0.0002
    assert kelly_from_returns(weak, confidence=0.95).target == 0.0
    assert kelly_from_returns(-strong, 0.5, 2.0).target == -2.0


def test_fractional_kelly_and_caps() -> None:
    assert fractional_kelly(4.0, 0.25, 10.0) == 1.0
    assert fractional_kelly(-4.0, 0.5, 1.5) == -1.5
    with pytest.raises(ConfigError, match=r"sizing\.kelly_fraction"):
        fractional_kelly(1.0, 0.0, 1.0)
    with pytest.raises(DataError, match="win probability"):
        kelly_binary(1.2, 1.0)


def test_volatility_target_by_hand() -> None:
    """Target 20 %: at 40 % volatility hold 0.5 of the signal; at 10 %, 2.0, capped at 1.5; short signals
    keep their sign; no forecast (0 or NaN) holds nothing."""
    out = volatility_target([1.0, 1.0, -1.0, 0.5, 1.0, 1.0], [0.4, 0.1, 0.4, 0.2, 0.0, np.nan], 0.2, 1.5)
    np.testing.assert_allclose(out, [0.5, 1.5, -0.5, 0.5, 0.0, 0.0])
    with pytest.raises(ConfigError, match=r"sizing\.target_volatility"):
        volatility_target([1.0], [0.2], 0.0, 1.0)


def test_volatility_targeting_delivers_the_target_across_regimes() -> None:
    """Hourly returns whose volatility switches between 30 % and 120 % a year every 30 days: a constant
    position's realised volatility is about 80 %, the EWMA-targeted one 20 % +- 15 % in each regime."""
    rng = np.random.default_rng(2)
    bars_per_year = 8760.0
    regime = np.repeat(np.tile([0.3, 1.2], 6), 720)
    r = rng.standard_normal(regime.size) * regime / math.sqrt(bars_per_year)
    sigma = ewma_volatility_forecast(r, bars_per_year, decay=0.97)[:-1]
    fraction = volatility_target(np.ones(r.size), sigma, 0.2, 10.0)
    targeted = fraction * r
    for vol in (0.3, 1.2):
        sel = (regime == vol) & (np.arange(r.size) % 720 >= 100)  # after the EWMA has caught up
        realised = targeted[sel].std() * math.sqrt(bars_per_year)
        assert realised == pytest.approx(0.2, rel=0.15)
    assert r.std() * math.sqrt(bars_per_year) > 0.7
