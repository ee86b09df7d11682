"""Stationary bootstrap: the structure of the resampled indices, the Politis–White block length against
the ``arch`` package and the AR(1) theory, and the coverage of the intervals over many draws."""

from __future__ import annotations

import numpy as np
import pytest
from arch.bootstrap import optimal_block_length as arch_optimal_block_length

from asterrl.backtest.stats import (
    bootstrap_confidence_interval,
    bootstrap_confidence_intervals,
    optimal_block_length,
    stationary_bootstrap_indices,
)
from asterrl.backtest.stats.pathwise import sharpe, total_return
from asterrl.errors import DataError


def ar1(n: int, phi: float, rng: np.random.Generator, burn: int = 200) -> np.ndarray:
    e = rng.standard_normal(n + burn)
    x = np.empty_like(e)
    x[0] = e[0]
    for t in range(1, e.size):
        x[t] = phi * x[t - 1] + e[t]
    return x[burn:]


def test_indices_run_in_blocks_of_the_requested_mean_length() -> None:
    """Within a block the index steps by +1 (wrapping n-1 -> 0); a new block starts with probability
    1/mean_block, so the mean block length is mean_block, and every bar is drawn equally often."""
    rng = np.random.default_rng(0)
    n, mean_block = 50, 8.0
    idx = stationary_bootstrap_indices(n, 400, mean_block, rng, length=2000)
    assert idx.shape == (400, 2000) and idx.min() >= 0 and idx.max() < n
    steps = (idx[:, 1:] - idx[:, :-1]) % n
    continued = steps == 1
    # a restart may land on the next bar by chance (prob 1/n): correct for it when counting restarts
    restarts = 1.0 - continued.mean()
    assert 1.0 / (restarts / (1.0 - 1.0 / n)) == pytest.approx(mean_block, rel=0.03)
    counts = np.bincount(idx.ravel(), minlength=n) / idx.size
    np.testing.assert_allclose(counts, 1.0 / n, rtol=0.05)


def test_draws_differ_and_a_seed_reproduces() -> None:
    a = stationary_bootstrap_indices(100, 5, 4.0, np.random.default_rng(1))
    b = stationary_bootstrap_indices(100, 5, 4.0, np.random.default_rng(1))
    c = stationary_bootstrap_indices(100, 5, 4.0, np.random.default_rng(2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c) and not np.array_equal(a[0], a[1])
    ones = stationary_bootstrap_indices(100, 3, 1.0, np.random.default_rng(1))
    assert ones.shape == (3, 100)  # mean block 1: every draw a fresh start (IID bootstrap)


@pytest.mark.parametrize(
    ("phi", "n", "seed"), [(0.3, 500, 1), (0.5, 5000, 2), (0.5, 20000, 3), (0.8, 5000, 4)]
)
def test_block_length_matches_the_arch_package(phi: float, n: int, seed: int) -> None:
    """``arch.bootstrap.optimal_block_length`` implements the same Politis–White / Patton–Politis–White
    rule independently (Kevin Sheppard's code, after Patton's program)."""
    x = ar1(n, phi, np.random.default_rng(seed))
    ref = arch_optimal_block_length(x)
    ours = optimal_block_length(x)
    assert ours.stationary == pytest.approx(float(ref["stationary"].iloc[0]), rel=1e-9)
    assert ours.circular == pytest.approx(float(ref["circular"].iloc[0]), rel=1e-9)


def test_block_length_approaches_the_ar1_optimum() -> None:
    """AR(1) with unit innovations: R(k) = phi^|k| / (1 - phi^2), G / g = 2 phi / (1 - phi^2), so the
    stationary-bootstrap optimum is (G/g)^(2/3) n^(1/3) = 1.2114 * 27.14 = 32.9 bars at phi = 0.5,
    n = 20,000. Averaged over 10 series the estimate lies within 15 %."""
    rng = np.random.default_rng(5)
    n, phi = 20_000, 0.5
    theory = (2 * phi / (1 - phi**2)) ** (2 / 3) * n ** (1 / 3)
    est = np.mean([optimal_block_length(ar1(n, phi, rng)).stationary for _ in range(10)])
    assert est == pytest.approx(theory, rel=0.15)
    white = optimal_block_length(rng.standard_normal(n)).stationary
    assert white < 3.0  # no dependence: blocks of about one bar


def _coverage(phi: float, mean_block: float | None, reps: int, rng: np.random.Generator) -> float:
    hits = 0
    for _ in range(reps):
        x = 0.1 + ar1(400, phi, rng)
        ci = bootstrap_confidence_interval(x, lambda m: m.mean(axis=1), 0.9, 300, mean_block, rng)
        hits += ci.low <= 0.1 <= ci.high
    return hits / reps


def test_block_bootstrap_intervals_cover_the_mean_of_dependent_data() -> None:
    """AR(1) phi = 0.5, 400 bars, 90 % intervals for the mean: with the automatic block length the true
    mean 0.1 is covered in 80-97 % of 200 series; the IID bootstrap (blocks of 1) covers far less
    (its variance misses the factor (1 + phi) / (1 - phi) = 3)."""
    rng = np.random.default_rng(6)
    assert 0.8 <= _coverage(0.5, None, 200, rng) <= 0.97
    assert _coverage(0.5, 1.0, 200, rng) < 0.7


def test_many_statistics_share_resamples() -> None:
    rng = np.random.default_rng(7)
    r = 0.001 + 0.01 * rng.standard_normal(300)
    both = bootstrap_confidence_intervals(
        r, {"total": total_return, "sharpe": lambda m: sharpe(m, 365.0)}, 0.9, 200, 5.0, 11
    )
    alone = bootstrap_confidence_interval(r, total_return, 0.9, 200, 5.0, 11)
    assert both["total"] == alone
    assert both["total"].estimate == pytest.approx(np.prod(1 + r) - 1)
    assert both["sharpe"].low < both["sharpe"].estimate < both["sharpe"].high
    assert both["total"].mean_block == 5.0 and both["total"].n_samples == 200


def test_bad_inputs_are_one_line_errors() -> None:
    with pytest.raises(DataError, match="mean block length"):
        stationary_bootstrap_indices(10, 2, 0.5, np.random.default_rng(0))
    with pytest.raises(DataError, match="confidence"):
        bootstrap_confidence_interval(np.zeros(20), total_return, 1.0)
    with pytest.raises(DataError, match="at least 10 resamples"):
        bootstrap_confidence_interval(np.zeros(20), total_return, 0.9, 5)
