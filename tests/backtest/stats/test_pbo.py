"""Probability of backtest overfitting (CSCV): a hand-worked 4-block example, an independent brute-force
implementation, and the behaviour on pure noise (shared BTCUSDT data) against a planted edge (synthetic)."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest

from asterrl.backtest.stats import (
    deflated_sharpe_of_best,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
)
from asterrl.errors import DataError
from tests.backtest.results import synthetic_close


def _blocks(values: list[list[float]], bars_per_block: int = 2) -> np.ndarray:
    """A (S * bars_per_block, N) matrix whose column j holds values[j][s] in every bar of block s."""
    return np.repeat(np.array(values, dtype=np.float64).T, bars_per_block, axis=0)


def test_four_blocks_three_strategies_by_hand() -> None:
    """Block means A = (3, 0, 0, 0), B = (1, 1, 1, 1), C = (0, 2, 0.5, 1); S = 4 gives 6 IS halves.
    IS {0,1}: A 1.5 wins; OOS {2,3}: A 0, B 1, C 0.75 -> A ranks 1 of 3, w = 1/4, logit -ln 3.
    {0,2}: A wins, OOS A 0 < B 1 < C 1.5 -> -ln 3. {0,3}: A wins, OOS A 0 < B 1 < C 1.25 -> -ln 3.
    {1,2}: C 1.25 wins, OOS {0,3}: C 0.5 < B 1 < A 1.5 -> -ln 3.
    {1,3}: C 1.5 wins, OOS C 0.25 lowest -> -ln 3.
    {2,3}: B 1 wins, OOS {0,1}: A 1.5, B 1, C 1 -> B ties C, rank 1.5, w = 1.5/4, logit ln(0.6).
    Every logit <= 0: PBO = 1. Winners' IS (1.5, 1.5, 1.5, 1.25, 1.5, 1) vs OOS (0, 0, 0, 0.5, 0.25, 1)."""
    rep = probability_of_backtest_overfitting(
        _blocks([[3, 0, 0, 0], [1, 1, 1, 1], [0, 2, 0.5, 1]]), 4, "mean"
    )
    np.testing.assert_allclose(rep.logits, [-math.log(3)] * 5 + [math.log(0.6)], rtol=1e-12)
    assert rep.pbo == 1.0 and rep.n_combinations == 6 and rep.block_bars == 2
    np.testing.assert_allclose(rep.is_performance, [1.5, 1.5, 1.5, 1.25, 1.5, 1.0])
    np.testing.assert_allclose(rep.oos_performance, [0.0, 0.0, 0.0, 0.5, 0.25, 1.0])
    slope = np.polyfit(rep.is_performance, rep.oos_performance, 1)[0]
    assert rep.degradation_slope == pytest.approx(slope) and rep.degradation_slope < 0.0
    assert rep.probability_of_loss == 0.0


def test_a_consistent_strategy_is_not_overfit() -> None:
    """Adding D = (2, 2, 2, 2): D wins every IS half (2 > 1.5) and is best OOS, w = 4/5, logit ln 4."""
    rep = probability_of_backtest_overfitting(
        _blocks([[3, 0, 0, 0], [1, 1, 1, 1], [0, 2, 0.5, 1], [2, 2, 2, 2]]), 4, "mean"
    )
    np.testing.assert_allclose(rep.logits, [math.log(4.0)] * 6)
    assert rep.pbo == 0.0


def _brute_force_logits(m: np.ndarray, s: int) -> np.ndarray:
    """CSCV written directly from the paper: slice the bars of each half, Sharpe with np.std, rank."""
    t, n = m.shape
    block = t // s
    m = m[t - block * s :]
    out = []
    for combo in itertools.combinations(range(s), s // 2):
        is_rows = np.concatenate([np.arange(b * block, (b + 1) * block) for b in combo])
        oos_rows = np.setdiff1d(np.arange(block * s), is_rows)
        sr_is = m[is_rows].mean(0) / m[is_rows].std(0, ddof=1)
        sr_oos = m[oos_rows].mean(0) / m[oos_rows].std(0, ddof=1)
        best = int(np.argmax(sr_is))
        rank = 1 + int(np.sum(sr_oos < sr_oos[best])) + (int(np.sum(sr_oos == sr_oos[best])) - 1) / 2
        w = rank / (n + 1)
        out.append(math.log(w / (1 - w)))
    return np.array(out)


def test_matches_a_brute_force_cscv() -> None:
    rng = np.random.default_rng(10)
    m = rng.standard_normal((203, 7)) * 0.01 + rng.normal(0.0, 0.002, 7)
    rep = probability_of_backtest_overfitting(m, 8)
    np.testing.assert_allclose(rep.logits, _brute_force_logits(m, 8), rtol=1e-9, atol=1e-12)
    assert rep.n_combinations == math.comb(8, 4) and rep.block_bars == 203 // 8


def test_sixteen_splits_give_every_half() -> None:
    """S = 16, the paper's choice: C(16, 8) = 12,870 combinations."""
    rep = probability_of_backtest_overfitting(np.random.default_rng(1).standard_normal((160, 3)), 16)
    assert rep.n_combinations == 12_870


def test_bad_inputs_are_one_line_errors() -> None:
    with pytest.raises(DataError, match="even number"):
        probability_of_backtest_overfitting(np.zeros((100, 3)), 5)
    with pytest.raises(DataError, match=">= 2 columns"):
        probability_of_backtest_overfitting(np.zeros((100, 1)), 4)
    with pytest.raises(DataError, match="too few"):
        probability_of_backtest_overfitting(np.zeros((20, 3)), 16)


def random_signal_grid(
    n_bars: int, rng: np.random.Generator, holds: tuple[int, ...], per_hold: int
) -> np.ndarray:
    """(n_bars, len(holds) * per_hold) positions in {-1, +1}, each redrawn at random every ``hold`` bars:
    a grid of skill-less strategies (their expected return is 0 whatever the price path)."""
    cols = []
    for hold in np.repeat(holds, per_hold):
        k = -(-n_bars // int(hold))
        cols.append(np.repeat(rng.choice([-1.0, 1.0], size=k), int(hold))[:n_bars])
    return np.column_stack(cols)


HOLDS = (6, 12, 24, 48, 96)


@pytest.mark.shared_data
def test_pure_noise_searches_on_btcusdt_are_overfit_and_not_deflated_significant(shared_data: Path) -> None:
    """Eight searches of 50 random-signal strategies each (holding 6 to 96 h) on the last two years of
    BTCUSDT 1h perp closes. Without skill the IS winner's OOS rank is uniform, so PBO ~ 1/2 on average
    (required >= 0.3 over the eight); the best strategy's plain PSR(0) exceeds 0.95 in every search
    but its DSR stays below 0.95 in every one. (Measured: PBO 0.23 to 0.66, mean 0.46; DSR 0.34 to 0.83;
    plain PSR of the best 0.976 to 1.0.)"""
    from asterrl.data.io import read_table

    bars, _ = read_table(shared_data / "perp_ohlcv" / "BTCUSDT_1h.csv.gz")
    close = bars["close"].to_numpy(np.float64)[-2 * 8760 :]
    ret = close[1:] / close[:-1] - 1.0
    pbos, dsrs, naive = [], [], []
    for seed in range(8):
        trials = random_signal_grid(ret.size, np.random.default_rng(seed), HOLDS, 10) * ret[:, None]
        pbos.append(probability_of_backtest_overfitting(trials, 16).pbo)
        _, dsr = deflated_sharpe_of_best(trials)
        dsrs.append(dsr.probability)
        naive.append(probabilistic_sharpe_ratio(dsr.sharpe, 0.0, ret.size))
    assert np.mean(pbos) >= 0.3
    assert max(dsrs) < 0.95
    assert min(naive) > 0.95  # selection alone makes every search's best look significant


def test_a_planted_edge_on_the_synthetic_market_is_detected() -> None:
    """49 random-signal strategies plus one that knows the next bar's direction 10 % of the time (else
    random: a 55 % hit rate), on two years of the synthetic market's 1h closes. The planted strategy wins,
    PBO is near 0 and its DSR above 0.95; the same grid without it has a high PBO and a low DSR."""
    _, close = synthetic_close(2 * 8760, seed=11)
    ret = close[1:] / close[:-1] - 1.0
    rng = np.random.default_rng(12)
    noise = random_signal_grid(ret.size, rng, HOLDS, 10)[:, :49]
    planted = np.where(rng.random(ret.size) < 0.1, np.sign(ret), rng.choice([-1.0, 1.0], size=ret.size))
    with_edge = np.column_stack([noise, planted]) * ret[:, None]
    rep = probability_of_backtest_overfitting(with_edge, 16)
    best, dsr = deflated_sharpe_of_best(with_edge)
    assert best == 49
    assert rep.pbo < 0.05
    assert dsr.probability > 0.95
    rep_noise = probability_of_backtest_overfitting(noise * ret[:, None], 16)
    _, dsr_noise = deflated_sharpe_of_best(noise * ret[:, None])
    assert rep_noise.pbo > 0.2 and dsr_noise.probability < 0.95
