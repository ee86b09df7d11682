"""Monte Carlo on a backtest result: exact reorderings enumerated by hand, conservation laws of the
bootstrap, common random numbers in the cost stress, and price paths built from the observed moves."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from asterrl.backtest import montecarlo as mc
from asterrl.backtest.stats import pathwise
from asterrl.errors import ConfigError, DataError


def test_reshuffled_trades_keep_the_final_return_and_spread_the_drawdown() -> None:
    """Trades -30 %, -30 %, +70 %, +70 %: every order ends at 0.7^2 1.7^2 = 1.4161 (+41.61 %), with the
    same Sharpe. Of the 6 distinct orders only --++ dips to 0.49 <= 0.5 (ruin, 1/6); the three with the two
    losses adjacent (--++, +--+, ++--) draw down 1 - 0.49 = 51 % (P(DD >= 50 %) = 1/2)."""
    trades = [-0.3, -0.3, 0.7, 0.7]
    cfg = mc.MonteCarloConfig(n_paths=3000, seed=1, ruin_equity=0.5, drawdown_levels=(0.5,))
    res = mc.reshuffle_trades(trades, trades_per_year=4.0, config=cfg)
    np.testing.assert_allclose(res.final_return, 0.7**2 * 1.7**2 - 1.0)
    np.testing.assert_allclose(res.sharpe, res.sharpe[0])
    assert res.probability_of_ruin == pytest.approx(1 / 6, abs=0.025)
    assert res.drawdown_probability[0.5] == pytest.approx(0.5, abs=0.03)
    # the drawdown distribution equals the one over the distinct orders, enumerated independently
    orders = sorted(set(itertools.permutations(trades)))
    exact = sorted(float(pathwise.max_drawdown(np.array(o))[0]) for o in orders)
    values, counts = np.unique(np.round(res.max_drawdown, 12), return_counts=True)
    expected_values, expected_counts = np.unique(np.round(exact, 12), return_counts=True)
    np.testing.assert_allclose(values, expected_values)
    np.testing.assert_allclose(counts / counts.sum(), expected_counts / expected_counts.sum(), atol=0.03)


def test_trades_with_replacement_vary_the_final_return() -> None:
    res = mc.reshuffle_trades(
        [0.02, -0.01, 0.03, -0.02], 50.0, mc.MonteCarloConfig(n_paths=500), replace=True
    )
    assert res.method == "trade_bootstrap" and np.std(res.final_return) > 0.0
    with pytest.raises(DataError, match="-100 %"):
        mc.reshuffle_trades([0.1, -1.0], 10.0)


def test_bootstrap_preserves_the_expected_log_growth() -> None:
    """Each resampled bar is marginally a uniform draw from the observed bars, so E[sum log(1 + r*)] is
    the observed sum of log(1 + r): the mean over 2000 paths matches within 3 standard errors."""
    rng = np.random.default_rng(2)
    r = 0.0003 + 0.01 * rng.standard_normal(1500)
    res = mc.bootstrap_returns(r, 8760.0, mc.MonteCarloConfig(n_paths=2000, mean_block=20.0, seed=3))
    log_growth = np.log1p(res.final_return)
    se = np.std(log_growth) / math.sqrt(log_growth.size)
    assert np.mean(log_growth) == pytest.approx(np.sum(np.log1p(r)), abs=3 * se)
    assert res.observed["final_return"] == pytest.approx(np.prod(1 + r) - 1)
    assert res.observed["sharpe"] == pytest.approx(pathwise.sharpe(r, 8760.0)[0])
    assert res.mean_block == 20.0 and res.n_paths == 2000


def test_fan_chart_is_ordered_and_starts_at_one() -> None:
    rng = np.random.default_rng(4)
    r = 0.01 * rng.standard_normal(500)
    res = mc.bootstrap_returns(r, 365.0, mc.MonteCarloConfig(n_paths=300, fan_points=50))
    fan = res.fan
    assert fan.steps[0] == 0 and fan.steps[-1] == 500 and fan.steps.size == 50
    np.testing.assert_allclose(fan.equity[:, 0], 1.0)
    assert np.all(np.diff(fan.equity, axis=0) >= -1e-12)  # quantile levels ascending
    q = res.quantiles((0.05, 0.5, 0.95))
    assert q["max_drawdown"][0] <= q["max_drawdown"][1] <= q["max_drawdown"][2]
    # the last fan column is the distribution of final equity
    np.testing.assert_allclose(fan.equity[:, -1], np.quantile(1 + res.final_return, fan.quantiles))


def test_a_second_seed_draws_other_paths() -> None:
    r = 0.01 * np.random.default_rng(5).standard_normal(300)
    a = mc.bootstrap_returns(r, 365.0, mc.MonteCarloConfig(n_paths=50, seed=1))
    b = mc.bootstrap_returns(r, 365.0, mc.MonteCarloConfig(n_paths=50, seed=1))
    c = mc.bootstrap_returns(r, 365.0, mc.MonteCarloConfig(n_paths=50, seed=2))
    np.testing.assert_array_equal(a.final_return, b.final_return)
    assert not np.array_equal(a.final_return, c.final_return)


def test_cost_stress_uses_common_resamples() -> None:
    """Costs x1 reproduce the plain bootstrap path for path; with costs >= 0 every path ends lower as k
    grows (same resamples); the observed series under x2 is ``net - cost`` bar by bar."""
    rng = np.random.default_rng(6)
    net = 0.0004 + 0.01 * rng.standard_normal(800)
    cost = np.abs(0.0003 * rng.standard_normal(800))
    cfg = mc.MonteCarloConfig(n_paths=400, mean_block=10.0, seed=7)
    stress = mc.stress_costs(net, cost, 8760.0, (1.0, 2.0, 3.0), cfg)
    plain = mc.bootstrap_returns(net, 8760.0, cfg)
    np.testing.assert_allclose(stress[1.0].final_return, plain.final_return)
    assert np.all(stress[2.0].final_return < stress[1.0].final_return)
    assert np.all(stress[3.0].final_return < stress[2.0].final_return)
    assert stress[2.0].observed["final_return"] == pytest.approx(np.prod(1 + net - cost) - 1)
    assert stress[3.0].method == "cost_stress x3"


def test_price_paths_are_rebuilt_from_observed_moves() -> None:
    """Each path starts at the first close and each of its log moves is one of the observed ones."""
    rng = np.random.default_rng(8)
    close = 100 * np.exp(np.cumsum(0.01 * rng.standard_normal(300)))
    paths = mc.resample_price_paths(close, 20, 5.0, np.random.default_rng(9))
    assert paths.shape == (20, 300) and np.all(paths[:, 0] == close[0])
    observed = np.diff(np.log(close))
    moves = np.diff(np.log(paths), axis=1)
    nearest = np.abs(moves.ravel()[:, None] - observed[None, :]).min(axis=1)
    assert nearest.max() < 1e-9


def test_buy_and_hold_on_price_paths_keeps_the_expected_log_growth() -> None:
    """Buy and hold's return on a path is its price change, so E[log(1 + final)] = log(close[-1]/close[0])
    (the observed sum of log moves); a moving-average rule re-run on each path gives a distribution whose
    observed value is the strategy on the real path."""
    rng = np.random.default_rng(10)
    close = 100 * np.exp(np.cumsum(0.0002 + 0.01 * rng.standard_normal(1000)))

    def hold(p: np.ndarray) -> np.ndarray:
        return p[1:] / p[:-1] - 1.0

    res = mc.price_path_monte_carlo(close, hold, 8760.0, mc.MonteCarloConfig(n_paths=1000, seed=11))
    log_growth = np.log1p(res.final_return)
    se = np.std(log_growth) / math.sqrt(log_growth.size)
    assert np.mean(log_growth) == pytest.approx(math.log(close[-1] / close[0]), abs=3 * se)

    def trend(p: np.ndarray) -> np.ndarray:
        fast = np.convolve(p, np.ones(10) / 10, mode="full")[: p.size]
        pos = np.where(p > fast, 1.0, -1.0)[:-1]
        return pos * (p[1:] / p[:-1] - 1.0)

    res = mc.price_path_monte_carlo(close, trend, 8760.0, mc.MonteCarloConfig(n_paths=100, seed=12))
    assert res.observed["final_return"] == pytest.approx(np.prod(1 + trend(close)) - 1)
    assert res.method == "price_paths" and np.std(res.final_return) > 0.0


def test_config_and_data_errors_name_the_problem() -> None:
    with pytest.raises(ConfigError, match=r"montecarlo\.n_paths"):
        mc.MonteCarloConfig(n_paths=0)
    with pytest.raises(ConfigError, match=r"montecarlo\.ruin_equity"):
        mc.MonteCarloConfig(ruin_equity=1.5)
    with pytest.raises(ConfigError, match=r"montecarlo\.mean_block"):
        mc.MonteCarloConfig(mean_block=0.5)
    with pytest.raises(DataError, match="cost series has 9 bars"):
        mc.stress_costs(np.zeros(10), np.zeros(9), 365.0)
    with pytest.raises(DataError, match="must return 9 per-bar returns"):
        mc.price_path_monte_carlo(np.arange(1.0, 11.0), lambda p: p, 365.0)
