"""VaR backtests: hand-worked likelihood ratios, scipy's G-tests as independent references, Kupiec's
published non-rejection regions, and the tests' size and power over many simulated exception series."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import chi2, chi2_contingency, power_divergence

from asterrl.errors import ConfigError, DataError
from asterrl.risk.var_backtest import (
    backtest_var,
    christoffersen_conditional_coverage,
    christoffersen_independence,
    exceptions,
    kupiec_acceptance_region,
    kupiec_pof,
    transition_counts,
)

HITS = [0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 0, 0]


def test_kupiec_by_hand_and_against_scipy() -> None:
    """5 exceptions in 250 days at p = 1 %: LR = -2 [245 ln(0.99/0.98) + 5 ln(0.01/0.02)]
    = -2 [2.48734 - 3.46574] = 1.95681, p = chi2.sf(1.95681, 1) = 0.16185. The statistic is the G-test of
    observed (5, 245) against expected (2.5, 247.5) (scipy ``power_divergence``, log-likelihood)."""
    test = kupiec_pof(5, 250, 0.01)
    assert test.statistic == pytest.approx(1.95681, abs=1e-5)
    assert test.p_value == pytest.approx(0.16185, abs=1e-5)
    assert test.p_value == pytest.approx(chi2.sf(test.statistic, 1), rel=1e-12)
    for x, t, p in [(0, 250, 0.01), (12, 500, 0.05), (40, 1000, 0.025), (3, 100, 0.1)]:
        g = power_divergence([x, t - x], [p * t, (1 - p) * t], lambda_="log-likelihood")
        assert kupiec_pof(x, t, p).statistic == pytest.approx(g.statistic, rel=1e-10, abs=1e-12)
        assert kupiec_pof(x, t, p).p_value == pytest.approx(g.pvalue, rel=1e-9)


# Kupiec (1995), "Techniques for verifying the accuracy of risk measurement models", J. Derivatives 3(2),
# Table 3 (reprinted in Jorion, "Value at Risk"): non-rejection regions for the number of exceptions N at
# a 5 % test level, as printed "a < N < b". The printed T = 255 cell at p = 1 % reads "N < 7": zero
# exceptions is rejected by the likelihood ratio itself (LR = 5.13 > 3.84), which the table leaves out.
KUPIEC_TABLE = {
    (0.01, 255): (None, 7),
    (0.01, 510): (1, 11),
    (0.01, 1000): (4, 17),
    (0.025, 255): (2, 12),
    (0.025, 510): (6, 21),
    (0.025, 1000): (15, 36),
    (0.05, 255): (6, 21),
    (0.05, 510): (16, 36),
    (0.05, 1000): (37, 65),
    (0.075, 255): (11, 28),
    (0.075, 510): (27, 51),
    (0.075, 1000): (59, 92),
    (0.1, 255): (16, 36),
    (0.1, 510): (38, 65),
    (0.1, 1000): (81, 120),
}


@pytest.mark.parametrize(("p", "t"), list(KUPIEC_TABLE))
def test_kupiec_regions_reproduce_the_published_table(p: float, t: int) -> None:
    low, high = KUPIEC_TABLE[(p, t)]
    fewest, most = kupiec_acceptance_region(t, p, 0.05)
    assert most == high - 1
    if low is not None:
        assert fewest == low + 1
    else:
        assert fewest == 1 and kupiec_pof(0, t, p).statistic == pytest.approx(-2 * t * math.log(1 - p))


def test_christoffersen_by_hand_and_against_the_contingency_g_test() -> None:
    """Hits 0 0 1 1 1 0 0 0 0 1 0 0: pairs 00 01 11 11 10 00 00 00 01 10 00, so n00 = 5, n01 = 2, n10 = 2,
    n11 = 2; pi01 = 2/7, pi11 = 1/2, pi = 4/11. LR_ind = -2 [7 ln(7/11) + 4 ln(4/11) - 5 ln(5/7)
    - 2 ln(2/7) - 4 ln(1/2)] = -2 [-7.210300 + 6.960476] = 0.49965, p = 0.47966: the G-test of
    independence of the 2x2 transition table (scipy, no continuity correction).
    LR_cc at p = 5 %: -2 [7 ln 0.95 + 4 ln 0.05 + 6.960476] = 10.76301, chi2(2) p = exp(-10.76301/2)."""
    c = transition_counts(HITS)
    assert (c.n00, c.n01, c.n10, c.n11) == (5, 2, 2, 2)
    ind = christoffersen_independence(HITS)
    assert ind.statistic == pytest.approx(0.49965, abs=1e-5)
    g = chi2_contingency([[5, 2], [2, 2]], correction=False, lambda_="log-likelihood")
    assert ind.statistic == pytest.approx(g.statistic, rel=1e-10)
    assert ind.p_value == pytest.approx(g.pvalue, rel=1e-9)
    cc = christoffersen_conditional_coverage(HITS, 0.05)
    assert cc.statistic == pytest.approx(10.76301, abs=1e-5) and cc.dof == 2
    assert cc.p_value == pytest.approx(math.exp(-cc.statistic / 2), rel=1e-10)
    # LR_cc = LR_uc on the T - 1 transitions + LR_ind
    uc = kupiec_pof(c.n01 + c.n11, len(HITS) - 1, 0.05)
    assert cc.statistic == pytest.approx(uc.statistic + ind.statistic, rel=1e-12)


def test_no_exception_after_an_exception_is_handled() -> None:
    """Empty cells (0 ln 0 = 0): a single exception at the end has no transition out of it."""
    test = christoffersen_independence([0, 0, 0, 0, 1])
    assert math.isfinite(test.statistic) and test.statistic >= 0.0
    assert christoffersen_independence([0] * 20).statistic == 0.0


def test_tests_hold_their_size_and_find_clustering() -> None:
    """1000 series of 1000 bars with IID exceptions at the claimed p = 1 %: Kupiec rejects at the 5 %
    level about 5 % of the time (a discrete statistic: 2-9 % accepted). Exceptions clustered in a Markov
    chain (p11 = 0.3, same 1 % rate) are rejected by the independence test most of the time."""
    rng = np.random.default_rng(0)
    iid = rng.random((1000, 1000)) < 0.01
    kupiec_rejects = np.mean([kupiec_pof(int(h.sum()), h.size, 0.01).p_value < 0.05 for h in iid])
    assert 0.02 <= kupiec_rejects <= 0.09
    ind_rejects = np.mean([christoffersen_independence(h).p_value < 0.05 for h in iid[:300]])
    assert ind_rejects <= 0.1
    p11, rate = 0.3, 0.01
    p01 = rate * (1 - p11) / (1 - rate)
    clustered = np.zeros((200, 1000), dtype=bool)
    u = rng.random((200, 1000))
    for t in range(1, 1000):
        clustered[:, t] = np.where(clustered[:, t - 1], u[:, t] < p11, u[:, t] < p01)
    assert np.mean([christoffersen_independence(h).p_value < 0.05 for h in clustered]) > 0.6


def test_backtest_of_a_var_series() -> None:
    r = np.array([0.01, -0.03, 0.0, -0.05, 0.02, -0.01])
    var = np.array([np.nan, 0.02, 0.02, 0.04, 0.02, 0.02])
    np.testing.assert_array_equal(exceptions(r, var), [True, False, True, False, False])
    bt = backtest_var(r, var, 0.05)
    assert bt.observations == 5 and bt.n_exceptions == 2
    assert bt.kupiec == kupiec_pof(2, 5, 0.05)


def test_bad_inputs_are_one_line_errors() -> None:
    with pytest.raises(ConfigError, match="tail probability"):
        kupiec_pof(1, 10, 0.0)
    with pytest.raises(DataError, match="exceptions <= observations"):
        kupiec_pof(11, 10, 0.01)
    with pytest.raises(DataError, match="one length"):
        exceptions(np.zeros(3), np.zeros(4))
