"""PSR, minimum track record and deflated Sharpe ratio: the published numerical example, an exact
expectation of the maximum of normals by quadrature, and calibration over many simulated searches."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate
from scipy.stats import norm

from asterrl.backtest.stats import (
    deflated_sharpe_of_best,
    deflated_sharpe_ratio,
    expected_maximum_sharpe,
    minimum_track_record_length,
    probabilistic_sharpe_ratio,
    sharpe_ratio,
)
from asterrl.errors import DataError


def test_deflated_sharpe_reproduces_the_published_numerical_example() -> None:
    """Bailey & López de Prado (2014), "The Deflated Sharpe Ratio", JPM 40(5), numerical example: N = 100
    trials with an annualised Sharpe variance of 1/2, the selected strategy's annualised Sharpe 2.5 over
    T = 1250 daily returns (250 a year), skewness -3, kurtosis 10. The paper prints SR0 ~ 0.1132 (per
    day) and DSR ~ 0.9004."""
    days = 250
    dsr = deflated_sharpe_ratio(
        sharpe=2.5 / math.sqrt(days),
        observations=1250,
        n_trials=100,
        trial_sharpe_variance=0.5 / days,
        skew=-3.0,
        kurt=10.0,
    )
    assert dsr.benchmark == pytest.approx(0.1132, abs=5e-5)
    assert dsr.probability == pytest.approx(0.9004, abs=5e-5)


@pytest.mark.parametrize("n", [10, 100, 1000, 10_000])
def test_expected_maximum_sharpe_approximates_the_exact_expected_maximum(n: int) -> None:
    """E[max of n standard normals] = int x n phi(x) Phi(x)^(n-1) dx (quadrature); the extreme-value
    approximation of the DSR paper is within 2.5 % at n = 10 and 1 % from n = 100."""
    exact = integrate.quad(lambda x: x * n * norm.pdf(x) * norm.cdf(x) ** (n - 1), -12.0, 12.0)[0]
    assert expected_maximum_sharpe(n, 1.0) == pytest.approx(exact, rel=0.025 if n < 100 else 0.01)
    assert expected_maximum_sharpe(n, 4.0) == pytest.approx(2.0 * expected_maximum_sharpe(n, 1.0))


def test_psr_by_hand_and_its_limits() -> None:
    """Normal returns, SR 0.1 per bar over 101 bars against 0: z = 0.1 * 10 / sqrt(1.005) = 0.99751,
    PSR = Phi(0.99751) = 0.84074. A single trial deflates to the plain PSR."""
    assert probabilistic_sharpe_ratio(0.1, 0.0, 101) == pytest.approx(
        norm.cdf(1.0 / math.sqrt(1.005)), rel=1e-12
    )
    assert probabilistic_sharpe_ratio(0.1, 0.0, 101) == pytest.approx(0.84074, abs=1e-5)
    one = deflated_sharpe_ratio(0.1, 101, 1, 0.3)
    assert one.benchmark == 0.0 and one.probability == pytest.approx(
        probabilistic_sharpe_ratio(0.1, 0.0, 101)
    )
    assert probabilistic_sharpe_ratio(0.1, 0.1, 50, -1.0, 8.0) == pytest.approx(0.5)


def test_minimum_track_record_length_by_hand_and_as_the_psr_inverse() -> None:
    """Normal returns, SR 0.1 per bar vs 0 at 95 %: 1 + 1.005 (1.644854 / 0.1)^2 = 272.91 bars; at exactly
    that length the PSR is 0.95. No track record suffices when SR <= benchmark."""
    assert minimum_track_record_length(0.1, 0.0) == pytest.approx(1.0 + 1.005 * (norm.ppf(0.95) / 0.1) ** 2)
    assert minimum_track_record_length(0.1, 0.0) == pytest.approx(272.91, abs=0.01)
    for sr, bench, skew, kurt in [(0.1, 0.0, 0.0, 3.0), (0.05, 0.01, -1.5, 7.0), (0.3, 0.1, 0.5, 4.0)]:
        t = minimum_track_record_length(sr, bench, skew, kurt, 0.9)
        assert probabilistic_sharpe_ratio(sr, bench, 2, skew, kurt) < 0.9
        # the PSR formula at a fractional length: Phi((SR - SR*) sqrt(T - 1) / sqrt(factor))
        factor = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr * sr
        assert norm.cdf((sr - bench) * math.sqrt(t - 1.0) / math.sqrt(factor)) == pytest.approx(0.9)
    assert minimum_track_record_length(0.0, 0.1) == math.inf


def test_psr_is_calibrated_under_the_null_for_skewed_returns() -> None:
    """2000 samples of 500 IID returns with skew -2, kurtosis 9 and a true per-bar Sharpe of 0.1: testing
    PSR(0.1) > 0.95 rejects about 5 % of the time (the non-normal correction keeps the size)."""
    rng = np.random.default_rng(8)
    draws = 0.1 - (rng.standard_exponential((2000, 500)) - 1.0)
    psr = np.array([probabilistic_sharpe_ratio(sharpe_ratio(r), 0.1, r.size, -2.0, 9.0) for r in draws])
    assert np.mean(psr > 0.95) == pytest.approx(0.05, abs=0.02)
    assert np.mean(psr < 0.05) == pytest.approx(0.05, abs=0.02)


def test_dsr_keeps_the_false_discovery_rate_of_a_search_near_its_level() -> None:
    """300 searches, each the best of 20 skill-less strategies (IID normal, 500 bars): the best one's
    plain PSR(0) exceeds 0.95 in about 1 - 0.95^20 = 64 % of searches, the DSR in at most ~5 %."""
    rng = np.random.default_rng(9)
    naive, deflated = [], []
    for _ in range(300):
        trials = rng.standard_normal((500, 20)) * 0.01
        best, dsr = deflated_sharpe_of_best(trials)
        naive.append(probabilistic_sharpe_ratio(dsr.sharpe, 0.0, 500) > 0.95)
        deflated.append(dsr.probability > 0.95)
        assert dsr.sharpe == pytest.approx(sharpe_ratio(trials[:, best]))
    assert np.mean(naive) == pytest.approx(1.0 - 0.95**20, abs=0.08)
    assert np.mean(deflated) <= 0.07


def test_more_trials_deflate_more() -> None:
    values = [deflated_sharpe_ratio(0.08, 1000, n, 0.001).probability for n in (1, 10, 100, 1000)]
    assert values == sorted(values, reverse=True) and values[0] > values[-1] + 0.3


def test_bad_inputs_are_one_line_errors() -> None:
    with pytest.raises(DataError, match="number of trials"):
        expected_maximum_sharpe(0, 1.0)
    with pytest.raises(DataError, match="variance"):
        expected_maximum_sharpe(5, -1.0)
    with pytest.raises(DataError, match="at least 2 observations"):
        probabilistic_sharpe_ratio(0.1, 0.0, 1)
    with pytest.raises(DataError, match="confidence"):
        minimum_track_record_length(0.1, 0.0, confidence=1.5)
    with pytest.raises(DataError, match=r"\(bars, trials\)"):
        deflated_sharpe_of_best(np.zeros(10))
