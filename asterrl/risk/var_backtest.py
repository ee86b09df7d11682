"""Backtests of a VaR model: are the exceptions (losses beyond the VaR) as frequent and as independent as
the model claims?

* Kupiec, P. H. (1995), "Techniques for verifying the accuracy of risk measurement models", Journal of
  Derivatives 3(2): proportion of failures, ``LR_uc = -2 ln[(1-p)^(T-x) p^x / ((1-x/T)^(T-x) (x/T)^x)]``,
  chi-square with 1 degree of freedom.
* Christoffersen, P. F. (1998), "Evaluating interval forecasts", International Economic Review 39(4):
  independence, the likelihood ratio of a first-order Markov chain of exceptions against a Bernoulli one
  (``LR_ind``, 1 d.o.f.), and conditional coverage ``LR_cc``, the Markov chain against Bernoulli(p)
  (2 d.o.f.), which equals ``LR_uc`` on the ``T - 1`` transitions plus ``LR_ind``.

``0 ln 0`` is taken as 0 throughout (a likelihood with an empty cell).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import xlogy
from scipy.stats import chi2

from asterrl.errors import ConfigError, DataError

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class LikelihoodRatioTest:
    """A likelihood-ratio test: ``statistic`` is chi-square with ``dof`` degrees of freedom under the
    null; ``p_value`` its upper tail (reject at level a when ``p_value < a``)."""

    name: str
    statistic: float
    dof: int
    p_value: float


@dataclass(frozen=True, slots=True)
class TransitionCounts:
    """Counts of consecutive exception pairs: ``n01`` = no exception followed by one, etc."""

    n00: int
    n01: int
    n10: int
    n11: int


def exceptions(returns: npt.ArrayLike, var: npt.ArrayLike) -> BoolArray:
    """True where the loss exceeds the VaR (``return < -var``), over the bars with a finite VaR."""
    r, v = np.asarray(returns, dtype=np.float64), np.asarray(var, dtype=np.float64)
    if r.shape != v.shape or r.ndim != 1:
        raise DataError(f"returns {r.shape} and VaR {v.shape} must be 1-D series of one length")
    ok = np.isfinite(v)
    return np.asarray(r[ok] < -v[ok], dtype=np.bool_)


def _check_p(tail_probability: float) -> None:
    if not 0.0 < tail_probability < 1.0:
        raise ConfigError(f"VaR tail probability must be in (0, 1), got {tail_probability}")


def _bernoulli_loglik(failures: float, successes: float, p: float) -> float:
    return float(xlogy(failures, p) + xlogy(successes, 1.0 - p))


def kupiec_pof(n_exceptions: int, observations: int, tail_probability: float) -> LikelihoodRatioTest:
    """Kupiec's proportion-of-failures test of ``n_exceptions`` in ``observations`` against a VaR whose
    exceptions should have probability ``tail_probability`` (0.01 for a 99 % VaR)."""
    _check_p(tail_probability)
    if observations < 1 or not 0 <= n_exceptions <= observations:
        raise DataError(f"need 0 <= exceptions <= observations >= 1, got {n_exceptions} of {observations}")
    x, t = float(n_exceptions), float(observations)
    stat = -2.0 * (_bernoulli_loglik(x, t - x, tail_probability) - _bernoulli_loglik(x, t - x, x / t))
    stat = max(stat, 0.0)
    return LikelihoodRatioTest("kupiec_pof", stat, 1, float(chi2.sf(stat, 1)))


def kupiec_acceptance_region(
    observations: int, tail_probability: float, test_level: float = 0.05
) -> tuple[int, int]:
    """(fewest, most) exceptions in ``observations`` that Kupiec's test does not reject at ``test_level``
    (Kupiec 1995, Table 3, computes these regions)."""
    counts = [
        x
        for x in range(observations + 1)
        if kupiec_pof(x, observations, tail_probability).p_value >= test_level
    ]
    return counts[0], counts[-1]


def transition_counts(hits: npt.ArrayLike) -> TransitionCounts:
    """Counts of (previous, current) exception pairs over consecutive bars."""
    h = np.asarray(hits, dtype=np.bool_)
    if h.ndim != 1 or h.size < 2:
        raise DataError("the exception series needs at least 2 bars")
    prev, cur = h[:-1], h[1:]
    return TransitionCounts(
        int(np.sum(~prev & ~cur)), int(np.sum(~prev & cur)), int(np.sum(prev & ~cur)), int(np.sum(prev & cur))
    )


def _markov_loglik(c: TransitionCounts) -> float:
    p01 = c.n01 / (c.n00 + c.n01) if c.n00 + c.n01 else 0.0
    p11 = c.n11 / (c.n10 + c.n11) if c.n10 + c.n11 else 0.0
    return _bernoulli_loglik(c.n01, c.n00, p01) + _bernoulli_loglik(c.n11, c.n10, p11)


def christoffersen_independence(hits: npt.ArrayLike) -> LikelihoodRatioTest:
    """Christoffersen's test that an exception today does not change tomorrow's exception probability."""
    c = transition_counts(hits)
    total = c.n00 + c.n01 + c.n10 + c.n11
    pi = (c.n01 + c.n11) / total
    stat = max(-2.0 * (_bernoulli_loglik(c.n01 + c.n11, c.n00 + c.n10, pi) - _markov_loglik(c)), 0.0)
    return LikelihoodRatioTest("christoffersen_independence", stat, 1, float(chi2.sf(stat, 1)))


def christoffersen_conditional_coverage(hits: npt.ArrayLike, tail_probability: float) -> LikelihoodRatioTest:
    """Christoffersen's joint test of the exception rate ``tail_probability`` and independence."""
    _check_p(tail_probability)
    c = transition_counts(hits)
    stat = -2.0 * (_bernoulli_loglik(c.n01 + c.n11, c.n00 + c.n10, tail_probability) - _markov_loglik(c))
    stat = max(stat, 0.0)
    return LikelihoodRatioTest("christoffersen_conditional_coverage", stat, 2, float(chi2.sf(stat, 2)))


@dataclass(frozen=True, slots=True)
class VaRBacktest:
    """The three tests of one VaR series, with the exception count."""

    observations: int
    n_exceptions: int
    tail_probability: float
    kupiec: LikelihoodRatioTest
    independence: LikelihoodRatioTest
    conditional_coverage: LikelihoodRatioTest


def backtest_var(returns: npt.ArrayLike, var: npt.ArrayLike, tail_probability: float) -> VaRBacktest:
    """Kupiec and Christoffersen tests of VaR forecasts ``var`` (positive losses, NaN where none) against
    the realised ``returns`` of the same bars."""
    hits = exceptions(returns, var)
    return VaRBacktest(
        observations=int(hits.size),
        n_exceptions=int(hits.sum()),
        tail_probability=tail_probability,
        kupiec=kupiec_pof(int(hits.sum()), int(hits.size), tail_probability),
        independence=christoffersen_independence(hits),
        conditional_coverage=christoffersen_conditional_coverage(hits, tail_probability),
    )
