"""VaR and CVaR: order statistics by hand, scipy's normal law and quadrature of the Cornish–Fisher
quantile as references, a hand-worked EWMA recursion, and filtered historical simulation adapting to a
volatility jump that plain historical VaR misses."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from asterrl.errors import ConfigError, DataError
from asterrl.risk.var import (
    cornish_fisher_tail_mean,
    cornish_fisher_var_cvar,
    cornish_fisher_z,
    ewma_variance,
    filtered_historical_var_cvar,
    historical_var_cvar,
    normal_var_cvar,
    rolling_var,
    value_at_risk,
)
from asterrl.risk.var_backtest import exceptions, kupiec_pof

TWENTY = np.random.default_rng(0).permutation(np.arange(-10, 10) / 100.0)  # -10 % .. +9 % in 1 % steps


def test_historical_var_and_cvar_by_hand() -> None:
    """20 returns -10 % .. +9 %. At 90 %: alpha n = 2, VaR = -x(2) = 9 %, CVaR = mean(10 %, 9 %) = 9.5 %.
    At 95 %: alpha n = 1, VaR = CVaR = 10 %."""
    assert historical_var_cvar(TWENTY, 0.9) == pytest.approx((0.09, 0.095))
    assert historical_var_cvar(TWENTY, 0.95) == pytest.approx((0.10, 0.10))


def test_historical_cvar_splits_the_atom_when_alpha_n_is_fractional() -> None:
    """30 returns, 95 %: alpha n = 1.5, so VaR = -x(2) and, by Acerbi & Tasche (2002), CVaR = -(1/alpha)
    [x(1)/n + (alpha - 1/n) x(2)] = -(2/3 x(1) + 1/3 x(2))."""
    r = np.random.default_rng(1).normal(0.0, 0.01, 30)
    x = np.sort(r)
    var, cvar = historical_var_cvar(r, 0.95)
    assert var == pytest.approx(-x[1])
    assert cvar == pytest.approx(-(2 / 3 * x[0] + 1 / 3 * x[1]))


def test_historical_var_is_the_inverted_cdf_quantile() -> None:
    r = np.random.default_rng(2).standard_t(4, 997) * 0.01
    for level in (0.9, 0.95, 0.975, 0.99):
        q = np.quantile(r, round(1 - level, 12), method="inverted_cdf")
        assert historical_var_cvar(r, level)[0] == pytest.approx(-q)


def test_normal_var_and_cvar_against_scipy() -> None:
    """VaR = -N^-1(alpha; mu, s); CVaR = -E[R | R <= -VaR] by scipy's expectation over the tail."""
    r = np.random.default_rng(3).normal(0.0005, 0.02, 500)
    mu, s = r.mean(), r.std(ddof=1)
    law = stats.norm(mu, s)
    var, cvar = normal_var_cvar(r, 0.99)
    assert var == pytest.approx(-law.ppf(0.01), rel=1e-10)
    tail = law.expect(lambda x: x, ub=law.ppf(0.01)) / 0.01
    assert cvar == pytest.approx(-tail, rel=1e-7)


@pytest.mark.parametrize(("skew", "exkurt"), [(0.0, 0.0), (-0.5, 1.0), (0.4, 0.8), (-1.0, 3.0)])
def test_cornish_fisher_tail_mean_equals_the_integral_of_its_quantile(skew: float, exkurt: float) -> None:
    """(1/alpha) int_0^alpha z_CF(Phi^-1(u)) du by quadrature equals the closed form."""
    for alpha in (0.01, 0.05):
        numeric = integrate.quad(
            lambda u: cornish_fisher_z(float(stats.norm.ppf(u)), skew, exkurt), 0.0, alpha, limit=200
        )[0]
        assert cornish_fisher_tail_mean(alpha, skew, exkurt) == pytest.approx(numeric / alpha, rel=1e-6)
    assert cornish_fisher_tail_mean(0.01, 0.0, 0.0) == pytest.approx(
        -stats.norm.pdf(stats.norm.ppf(0.01)) / 0.01
    )


def test_cornish_fisher_is_closer_than_normal_for_a_skewed_law() -> None:
    """Returns -(G - 16) / 400 with G ~ Gamma(16): skew -0.5, excess kurtosis 0.375, a fat left tail. The
    true 99 % VaR is (Gamma(16).ppf(0.99) - 16) / 400; Cornish–Fisher (from 400,000 draws) lands much
    nearer to it than the normal VaR."""
    rng = np.random.default_rng(4)
    r = -(rng.gamma(16.0, size=400_000) - 16.0) / 400.0
    truth = (stats.gamma(16.0).ppf(0.99) - 16.0) / 400.0
    cf, _ = cornish_fisher_var_cvar(r, 0.99)
    normal, _ = normal_var_cvar(r, 0.99)
    assert abs(cf - truth) < 0.2 * abs(normal - truth)
    assert cornish_fisher_var_cvar(np.random.default_rng(5).normal(0, 0.01, 200_000), 0.99)[
        0
    ] == pytest.approx(normal_var_cvar(np.random.default_rng(5).normal(0, 0.01, 200_000), 0.99)[0], rel=0.02)


def test_ewma_variance_by_hand() -> None:
    """lambda 0.94, seed 1e-4, r = 1 %, -2 %, 3 %: v1 = 0.94e-4 + 0.06e-4 = 1e-4; v2 = 0.94e-4 + 0.06 * 4e-4
    = 1.18e-4; v3 = 0.94 * 1.18e-4 + 0.06 * 9e-4 = 1.6492e-4."""
    np.testing.assert_allclose(
        ewma_variance([0.01, -0.02, 0.03], 0.94, 1e-4), [1e-4, 1e-4, 1.18e-4, 1.6492e-4], rtol=1e-12
    )
    assert ewma_variance([0.01, -0.02], 0.94)[0] == pytest.approx((1e-4 + 4e-4) / 2)


def test_filtered_historical_scales_with_the_current_volatility() -> None:
    """Standardised residuals r_t / sigma_t times sigma_{T+1}: doubling every return doubles the VaR."""
    r = np.random.default_rng(6).standard_t(5, 1000) * 0.01
    v, c = filtered_historical_var_cvar(r, 0.99)
    v2, c2 = filtered_historical_var_cvar(2 * r, 0.99)
    assert v2 == pytest.approx(2 * v) and c2 == pytest.approx(2 * c) and c > v > 0


def test_filtered_historical_adapts_to_a_volatility_jump() -> None:
    """1500 bars at 0.5 % volatility then 500 at 2 %: in the first 100 high-volatility bars a 500-bar
    historical 99 % VaR is breached about 10 % of the time (Kupiec rejects at 1e-6), the EWMA-filtered VaR
    about 1-2 %; over all 500 the filtered VaR passes Kupiec."""
    rng = np.random.default_rng(7)
    r = np.concatenate([rng.normal(0, 0.005, 1500), rng.normal(0, 0.02, 500)])
    hist = rolling_var(r, 500, 0.99, "historical")
    fhs = rolling_var(r, 500, 0.99, "filtered_historical")
    first_hist = exceptions(r[1500:1600], hist[1500:1600])
    first_fhs = exceptions(r[1500:1600], fhs[1500:1600])
    assert first_hist.mean() >= 0.08 and kupiec_pof(int(first_hist.sum()), 100, 0.01).p_value < 1e-6
    assert first_fhs.mean() <= 0.03
    all_fhs = exceptions(r[1500:], fhs[1500:])
    assert kupiec_pof(int(all_fhs.sum()), 500, 0.01).p_value > 0.05
    assert np.all(np.isnan(hist[:500])) and np.all(np.isfinite(hist[500:]))


def test_dispatch_and_bad_inputs() -> None:
    r = np.random.default_rng(8).normal(0, 0.01, 300)
    est = value_at_risk(r, 0.975, "cornish_fisher")
    assert (est.var, est.cvar) == cornish_fisher_var_cvar(r, 0.975) and est.method == "cornish_fisher"
    with pytest.raises(ConfigError, match="unknown VaR method 'monte'"):
        value_at_risk(r, 0.99, "monte")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="level"):
        value_at_risk(r, 99.0)
    with pytest.raises(DataError, match="NaN"):
        value_at_risk([0.01, np.nan, 0.0])
    with pytest.raises(ConfigError, match="window"):
        rolling_var(r, 1000)
    with pytest.raises(ConfigError, match="decay"):
        ewma_variance(r, 1.0)
