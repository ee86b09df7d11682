"""Overfitting statistics of backtests: the Sharpe ratio and its standard error under non-normal and
autocorrelated returns, probabilistic and deflated Sharpe ratios, the minimum track-record length, the
probability of backtest overfitting (CSCV) and stationary-bootstrap confidence intervals.

Statistic functions take plain arrays of per-bar simple returns; Sharpe ratios are per bar unless a
function says it annualises, and annualisation always takes ``bars_per_year`` as a parameter.
"""

from asterrl.backtest.stats.bootstrap import (
    BlockLength,
    ConfidenceInterval,
    bootstrap_confidence_interval,
    bootstrap_confidence_intervals,
    bootstrap_distributions,
    optimal_block_length,
    stationary_bootstrap_indices,
)
from asterrl.backtest.stats.pbo import OverfittingReport, probability_of_backtest_overfitting
from asterrl.backtest.stats.probabilistic import (
    DeflatedSharpe,
    deflated_sharpe_of_best,
    deflated_sharpe_ratio,
    expected_maximum_sharpe,
    minimum_track_record_length,
    probabilistic_sharpe_ratio,
    trial_sharpe_ratios,
)
from asterrl.backtest.stats.sharpe import (
    SharpeEstimate,
    aggregation_scale,
    autocorrelations,
    kurtosis,
    sharpe_ratio,
    sharpe_standard_error,
    skewness,
    time_aggregated_sharpe,
)

__all__ = [
    "BlockLength",
    "ConfidenceInterval",
    "DeflatedSharpe",
    "OverfittingReport",
    "SharpeEstimate",
    "aggregation_scale",
    "autocorrelations",
    "bootstrap_confidence_interval",
    "bootstrap_confidence_intervals",
    "bootstrap_distributions",
    "deflated_sharpe_of_best",
    "deflated_sharpe_ratio",
    "expected_maximum_sharpe",
    "kurtosis",
    "minimum_track_record_length",
    "optimal_block_length",
    "probabilistic_sharpe_ratio",
    "probability_of_backtest_overfitting",
    "sharpe_ratio",
    "sharpe_standard_error",
    "skewness",
    "stationary_bootstrap_indices",
    "time_aggregated_sharpe",
    "trial_sharpe_ratios",
]
