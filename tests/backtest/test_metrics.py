"""Trading metrics against numbers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from asterrl.backtest.metrics import (
    EpisodeTrace,
    bars_per_year,
    max_drawdown,
    sharpe_ratio,
    sortino_ratio,
    trading_metrics,
)


def test_bars_per_year_hourly() -> None:
    assert bars_per_year(3_600_000) == pytest.approx(8760.0)


def test_sharpe_of_two_returns() -> None:
    # returns 1 % and -0.5 %: mean 0.25 %, sample std = sqrt(2 * 0.0075^2) = 0.010607
    r = np.array([0.01, -0.005])
    expected = 0.0025 / (0.0075 * math.sqrt(2.0)) * math.sqrt(8760.0)
    assert sharpe_ratio(r, 8760.0) == pytest.approx(expected)
    assert sharpe_ratio(np.array([0.01, 0.01]), 8760.0) == 0.0


def test_sortino_uses_downside_deviation_over_all_periods() -> None:
    r = np.array([0.02, -0.01, 0.0, -0.02])
    # mean = -0.0025; downside = sqrt((0.0001 + 0.0004) / 4) = 0.01118
    expected = -0.0025 / math.sqrt(0.0005 / 4) * math.sqrt(365.0)
    assert sortino_ratio(r, 365.0) == pytest.approx(expected)
    assert sortino_ratio(np.array([0.01, 0.0]), 365.0) == 0.0


def test_max_drawdown_of_a_curve() -> None:
    # peak 120, trough 90 -> 25 %; later peak 130 then 117 -> 10 %
    assert max_drawdown(np.array([100.0, 120.0, 90.0, 130.0, 117.0])) == pytest.approx(0.25)


def test_episode_metrics() -> None:
    trace = EpisodeTrace(
        equity=np.array([1000.0, 1010.0, 1005.0, 1020.0]),
        timestamps=np.arange(4, dtype=np.int64) * 3_600_000,
        fees=np.array([0.35, 0.0, 0.7]),
        funding=np.array([0.0, -0.2, 0.05]),
        traded_notional=np.array([1000.0, 0.0, 2000.0]),
        position=np.array([0.01, 0.01, 0.0]),
        actions=np.array([4.0, 4.0, 2.0]),
    )
    m = trading_metrics(trace, 8760.0)
    assert m.net_return == pytest.approx(0.02)
    assert m.fees_paid == pytest.approx(1.05)
    assert m.funding_paid == pytest.approx(0.15)  # paid 0.2, received 0.05
    assert m.turnover == pytest.approx(3000.0 / 1008.75)  # mean equity (1000+1010+1005+1020)/4
    assert m.time_flat == pytest.approx(1.0 / 3.0)
    assert m.trade_count == 2
    assert m.max_drawdown == pytest.approx(5.0 / 1010.0)
    r = np.array([0.01, 1005.0 / 1010.0 - 1.0, 1020.0 / 1005.0 - 1.0])
    assert m.sharpe == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(8760.0))
