"""Path metrics: hand-worked values and agreement with the one-series metrics of the evaluation reports."""

from __future__ import annotations

import math

import numpy as np
import pytest

from asterrl.backtest.metrics import max_drawdown, sharpe_ratio, sortino_ratio
from asterrl.backtest.stats import pathwise
from asterrl.errors import DataError


def test_three_returns_by_hand() -> None:
    """+10 %, -20 %, +5 %: equity 1, 1.1, 0.88, 0.924; net -7.6 %; drawdown 1 - 0.88/1.1 = 20 %;
    over 3 bars with 3 bars a year the CAGR is the net return and Calmar -0.076 / 0.2 = -0.38."""
    r = np.array([0.1, -0.2, 0.05])
    np.testing.assert_allclose(pathwise.equity_paths(r)[0], [1.0, 1.1, 0.88, 0.924])
    assert pathwise.total_return(r)[0] == pytest.approx(-0.076)
    assert pathwise.max_drawdown(r)[0] == pytest.approx(0.2)
    assert pathwise.annualised_return(r, 3.0)[0] == pytest.approx(-0.076)
    assert pathwise.calmar(r, 3.0)[0] == pytest.approx(-0.38)
    np.testing.assert_allclose(pathwise.underwater([1.0, 1.1, 0.88, 0.924]), [0, 0, 0.2, 1 - 0.924 / 1.1])


def test_rows_agree_with_the_evaluation_metrics() -> None:
    """asterrl.backtest.metrics computes one series at a time, separately written."""
    rng = np.random.default_rng(0)
    paths = 0.0005 + 0.01 * rng.standard_normal((5, 400))
    for row, s, so, dd in zip(
        paths,
        pathwise.sharpe(paths, 8760.0),
        pathwise.sortino(paths, 8760.0),
        pathwise.max_drawdown(paths),
        strict=True,
    ):
        assert s == pytest.approx(sharpe_ratio(row, 8760.0), rel=1e-12)
        assert so == pytest.approx(sortino_ratio(row, 8760.0), rel=1e-12)
        assert dd == pytest.approx(max_drawdown(np.concatenate([[1.0], np.cumprod(1 + row)])), rel=1e-12)
    vol = pathwise.annualised_volatility(paths, 8760.0)
    np.testing.assert_allclose(vol, paths.std(axis=1, ddof=1) * math.sqrt(8760.0))


def test_flat_and_wiped_out_paths() -> None:
    assert pathwise.sharpe(np.zeros(10), 365.0)[0] == 0.0
    assert pathwise.annualised_return([0.5, -1.0], 365.0)[0] == -1.0
    assert pathwise.max_drawdown([0.5, -1.0])[0] == 1.0
    assert pathwise.calmar([0.01, 0.02], 365.0)[0] == math.inf


def test_named_statistics() -> None:
    stat = pathwise.row_statistic("sharpe", 252.0)
    r = np.array([[0.01, -0.005, 0.002, 0.0]])
    assert stat(r)[0] == pytest.approx(sharpe_ratio(r[0], 252.0))
    assert set(pathwise.HEADLINE_METRICS) >= {"total_return", "sharpe", "max_drawdown"}
    with pytest.raises(DataError, match="unknown metric 'alpha'"):
        pathwise.row_statistic("alpha", 252.0)
