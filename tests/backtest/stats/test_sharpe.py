"""Sharpe ratio and its standard error: hand-worked moments, the closed forms of Lo (2002) and Mertens
(2002), statsmodels' HAC sum as an independent reference, and Monte Carlo sampling distributions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.sandwich_covariance import S_hac_simple

from asterrl.backtest.stats import (
    aggregation_scale,
    autocorrelations,
    kurtosis,
    sharpe_ratio,
    sharpe_standard_error,
    skewness,
    time_aggregated_sharpe,
)
from asterrl.backtest.stats.sharpe import hac_covariance, newey_west_lags, sharpe_variance_factor
from asterrl.errors import DataError

FIVE = [0.01, -0.02, 0.03, 0.0, 0.015]


def test_moments_and_standard_errors_of_five_returns_by_hand() -> None:
    """r = 1 %, -2 %, 3 %, 0 %, 1.5 %: mean 7/1000; deviations 3, -27, 23, -7, 8 (x 1e-3);
    sum of squares 1380e-6 so s^2 = 345e-6 (ddof 1), m2 = 276e-6; m3 = -7320e-9 / 5 = -1464e-9;
    m4 = 817,860e-12 / 5 = 163,572e-12. SR = 0.007 / sqrt(345e-6) = 0.3768673; skew = m3 / m2^1.5 =
    -0.3192842; kurt = m4 / m2^2 = 163572 / 76176 = 2.1472905. Lo: sqrt((1 + SR^2/2) / 5) = 0.4628206;
    Mertens: sqrt((1 - skew SR + (kurt - 1)/4 SR^2) / 5) = 0.4818848."""
    assert sharpe_ratio(FIVE) == pytest.approx(0.3768673314, rel=1e-9)
    assert skewness(FIVE) == pytest.approx(-0.3192842191, rel=1e-9)
    assert kurtosis(FIVE) == pytest.approx(2.1472904852, rel=1e-9)
    normal = sharpe_standard_error(FIVE, "normal")
    assert normal.standard_error == pytest.approx(0.4628205900, rel=1e-9)
    assert normal.observations == 5 and normal.lags == 0
    assert sharpe_standard_error(FIVE, "non_normal").standard_error == pytest.approx(0.4818848239, rel=1e-9)


def test_variance_factor_reduces_to_lo_for_normal_moments() -> None:
    """Mertens (2002): 1 + SR^2/2 - skew SR + (kurt - 3)/4 SR^2; at skew 0, kurt 3 it is Lo's 1 + SR^2/2."""
    assert sharpe_variance_factor(0.5, 0.0, 3.0) == pytest.approx(1.125)
    assert sharpe_variance_factor(0.5, -1.0, 6.0) == pytest.approx(1.0 + 0.5 + 0.125 + 3.0 / 4.0 * 0.25)


def test_constant_returns_have_zero_sharpe_and_bad_input_is_one_line() -> None:
    assert sharpe_ratio([0.01] * 10) == 0.0
    with pytest.raises(DataError, match="NaN"):
        sharpe_ratio([0.01, float("nan"), 0.0])
    with pytest.raises(DataError, match="1-D"):
        sharpe_ratio(np.zeros((3, 3)))
    with pytest.raises(DataError, match="unknown Sharpe standard-error method"):
        sharpe_standard_error(FIVE, "bayes")  # type: ignore[arg-type]


def test_hac_covariance_matches_statsmodels_bartlett_sum() -> None:
    """statsmodels' ``S_hac_simple`` is the Bartlett-weighted sum (not divided by T) of the same
    autocovariances: an independent implementation of the Newey–West long-run covariance."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((800, 2)) @ np.array([[1.0, 0.3], [0.0, 0.5]])
    x[1:] += 0.6 * x[:-1]
    x -= x.mean(axis=0)
    for lags in (0, 1, 5, 12):
        np.testing.assert_allclose(
            hac_covariance(x, lags), S_hac_simple(x, nlags=lags) / x.shape[0], rtol=1e-12
        )


def test_hac_at_zero_lags_is_the_iid_non_normal_error() -> None:
    """With no lags the GMM delta-method variance equals Mertens' formula (up to ddof, O(1/T))."""
    rng = np.random.default_rng(4)
    r = 0.001 + 0.01 * (rng.standard_exponential(5000) - 1.0)
    hac = sharpe_standard_error(r, "hac", lags=0).standard_error
    iid = sharpe_standard_error(r, "non_normal").standard_error
    assert hac == pytest.approx(iid, rel=2e-3)


def test_non_normal_error_matches_the_sampling_spread_of_skewed_returns() -> None:
    """IID returns with skew -2 and kurtosis 9 (a negated centred exponential) and a true per-bar Sharpe
    of 0.2: over 3000 samples of 500 bars the standard deviation of the Sharpe estimates is Mertens'
    error (within 6 %), while Lo's normal error is too small by more than 10 %."""
    rng = np.random.default_rng(5)
    draws = 0.2 - (rng.standard_exponential((3000, 500)) - 1.0)
    sr = draws.mean(axis=1) / draws.std(axis=1, ddof=1)
    spread = float(np.std(sr, ddof=1))
    mertens = math.sqrt(sharpe_variance_factor(0.2, -2.0, 9.0) / 500)
    lo = math.sqrt((1 + 0.02) / 500)
    assert spread == pytest.approx(mertens, rel=0.06)
    assert lo < 0.9 * spread
    estimated = np.mean([sharpe_standard_error(row, "non_normal").standard_error for row in draws[:300]])
    assert estimated == pytest.approx(spread, rel=0.08)


def test_hac_error_matches_the_sampling_spread_of_autocorrelated_returns() -> None:
    """AR(1) returns with rho = 0.5: the IID error understates the spread by about sqrt((1+rho)/(1-rho))
    = 1.73; the HAC error (Newey–West lags 20) tracks the Monte Carlo spread within 15 %."""
    rng = np.random.default_rng(6)
    n, k, rho = 2000, 600, 0.5
    e = rng.standard_normal((k, n + 50))
    x = np.zeros_like(e)
    for t in range(1, e.shape[1]):
        x[:, t] = rho * x[:, t - 1] + e[:, t]
    r = 0.05 + x[:, 50:]
    sr = r.mean(axis=1) / r.std(axis=1, ddof=1)
    spread = float(np.std(sr, ddof=1))
    hac = np.mean([sharpe_standard_error(row, "hac", lags=20).standard_error for row in r[:200]])
    iid = np.mean([sharpe_standard_error(row, "normal").standard_error for row in r[:200]])
    assert hac == pytest.approx(spread, rel=0.15)
    assert spread / iid == pytest.approx(math.sqrt(3.0), rel=0.12)


def test_newey_west_rule_of_thumb() -> None:
    """floor(4 (T/100)^(2/9)): T=100 -> 4, T=1000 -> floor(6.6604) = 6."""
    assert newey_west_lags(100) == 4
    assert newey_west_lags(1000) == 6


def test_aggregation_scale_without_autocorrelation_is_sqrt_q() -> None:
    """Lo (2002): with rho_k = 0, eta(q) = sqrt(q); the monthly-to-annual factor is sqrt(12) = 3.4641."""
    assert aggregation_scale(12, []) == pytest.approx(3.4641016, rel=1e-7)
    assert aggregation_scale(12, np.zeros(11)) == pytest.approx(math.sqrt(12))


@pytest.mark.parametrize(("q", "rho"), [(2, 0.3), (12, 0.2), (12, 0.5), (12, -0.2), (52, 0.1)])
def test_aggregation_scale_matches_the_ar1_closed_form(q: int, rho: float) -> None:
    """For AR(1) returns rho_k = rho^k and sum_{k<q} (q - k) rho^k = rho/(1-rho) (q - 1 - rho (1 - rho^(q-1))
    / (1 - rho)), Lo's (2002) closed form of eta(q) for AR(1); independent of the generic sum."""
    inner = q + 2.0 * rho / (1.0 - rho) * (q - 1 - rho * (1.0 - rho ** (q - 1)) / (1.0 - rho))
    assert aggregation_scale(q, rho ** np.arange(1, q)) == pytest.approx(q / math.sqrt(inner), rel=1e-12)


def test_time_aggregated_sharpe_predicts_the_sharpe_of_summed_returns() -> None:
    """AR(1) with rho = 0.4, mean 0.1: the Sharpe of non-overlapping 12-bar sums (measured) equals eta(12)
    times the one-bar Sharpe (predicted from the sample autocorrelations) within 6 %; sqrt(12) is far off."""
    rng = np.random.default_rng(7)
    n, rho = 240_000, 0.4
    e = rng.standard_normal(n)
    x = np.empty(n)
    x[0] = e[0]
    for t in range(1, n):
        x[t] = rho * x[t - 1] + e[t]
    r = 0.1 + x
    measured = sharpe_ratio(r.reshape(-1, 12).sum(axis=1))
    assert time_aggregated_sharpe(r, 12, max_lag=11) == pytest.approx(measured, rel=0.06)
    assert math.sqrt(12) * sharpe_ratio(r) > 1.3 * measured


def test_autocorrelations_of_a_known_series() -> None:
    """x = 1, -1, 1, -1 (mean 0): rho_1 = -3/4, rho_2 = 2/4 (sums over T of lagged products / sum x^2)."""
    np.testing.assert_allclose(autocorrelations([1.0, -1.0, 1.0, -1.0], 2), [-0.75, 0.5])
