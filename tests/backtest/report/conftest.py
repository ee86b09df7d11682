"""Shared report fixtures: one backtest result with a recorded search, and its report written once."""

from __future__ import annotations

import numpy as np
import pytest

from asterrl.backtest.report import ReportPaths, write_report
from asterrl.backtest.result import BacktestResult, TrialSet
from asterrl.backtest.stats import sharpe_ratio
from tests.backtest.results import FAST_REPORT, signal_result, sma_signal, synthetic_close


@pytest.fixture(scope="session")
def result() -> BacktestResult:
    """120 days of the synthetic market, a 24/96-hour moving-average cross, 20 trials behind it."""
    ts, close = synthetic_close(24 * 120, seed=5)
    signal = sma_signal(close)
    base = signal_result(ts, close, signal, funding_rate_per_bar=2e-6)
    r = base.returns()
    rng = np.random.default_rng(0)
    trials = np.column_stack([r] + [r * rng.choice([-1.0, 1.0], size=r.size) for _ in range(19)])
    var = float(np.var([sharpe_ratio(c) for c in trials.T], ddof=1))
    return signal_result(ts, close, signal, funding_rate_per_bar=2e-6, trials=TrialSet(20, var, trials))


@pytest.fixture(scope="session")
def written(result: BacktestResult, tmp_path_factory: pytest.TempPathFactory) -> ReportPaths:
    """The report of ``result``, written once for the tests that read it."""
    return write_report(result, tmp_path_factory.mktemp("written") / "report", FAST_REPORT)
