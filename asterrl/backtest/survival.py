"""Does a result survive the search behind it? The overfitting statistics of one result in one row.

Beside each agent, ``asterrl backtest`` and ``asterrl compare`` print how many trials stand behind its
number and whether it survives: the annualised Sharpe ratio with a stationary-bootstrap confidence interval,
the probabilistic Sharpe ratio (P(true Sharpe > 0)), the deflated Sharpe ratio against the best of the
recorded trials by luck (Bailey & López de Prado 2014), and, when the trials' returns on the same bars are
known, the probability of backtest overfitting by CSCV (Bailey et al. 2017).

A result *survives* when its DSR is at least ``SURVIVAL_DSR`` (0.95) and, where measured, its PBO is below
one half. With one trial the DSR is the PSR against zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from asterrl.backtest.result import TrialSet
from asterrl.backtest.stats import pathwise
from asterrl.backtest.stats.bootstrap import bootstrap_confidence_interval
from asterrl.backtest.stats.pbo import probability_of_backtest_overfitting
from asterrl.backtest.stats.probabilistic import deflated_sharpe_ratio, probabilistic_sharpe_ratio
from asterrl.backtest.stats.sharpe import kurtosis, sharpe_ratio, skewness
from asterrl.errors import DataError

#: DSR at or above which a result counts as surviving its search.
SURVIVAL_DSR = 0.95
#: CSCV blocks used for the PBO (fewer when the series is short).
PBO_SPLITS = 16


@dataclass(frozen=True)
class Survival:
    """The overfitting statistics of one result.

    :param name: agent or strategy.
    :param trials: configurations behind the result (1 when no search was recorded).
    :param sharpe: annualised Sharpe ratio; ``sharpe_low``/``sharpe_high`` its bootstrap interval.
    :param psr: probability that the true Sharpe exceeds 0.
    :param dsr: deflated Sharpe ratio (probability the result beats the best trial by luck).
    :param pbo: probability of backtest overfitting (NaN when the trials' returns are not on these bars).
    :param survives: ``dsr >= SURVIVAL_DSR`` and (where measured) ``pbo < 0.5``.
    """

    name: str
    trials: int
    sharpe: float
    sharpe_low: float
    sharpe_high: float
    psr: float
    dsr: float
    pbo: float
    survives: bool

    def as_row(self) -> dict[str, object]:
        return asdict(self)


def survival(
    name: str,
    returns: npt.ArrayLike,
    bars_per_year: float,
    trials: TrialSet | None = None,
    confidence: float = 0.95,
    samples: int = 1000,
    seed: int = 0,
) -> Survival:
    """The statistics of per-bar ``returns`` found by the search in ``trials`` (``None``: one trial)."""
    r = np.asarray(returns, dtype=np.float64)
    sr, skew, kurt = sharpe_ratio(r), skewness(r), kurtosis(r)
    psr = _safe(lambda: probabilistic_sharpe_ratio(sr, 0.0, r.size, skew, kurt))
    n, variance = (1, 0.0) if trials is None else (trials.n_trials, trials.sharpe_variance)
    dsr = _safe(lambda: deflated_sharpe_ratio(sr, r.size, n, variance, skew, kurt).probability)
    ci = bootstrap_confidence_interval(
        r, pathwise.row_statistic("sharpe", bars_per_year), confidence, samples, None, seed
    )
    pbo = math.nan
    if trials is not None and trials.returns is not None and trials.n_trials >= 2:
        splits = PBO_SPLITS
        while splits > 2 and trials.returns.shape[0] // splits < 2:
            splits -= 2
        pbo = probability_of_backtest_overfitting(trials.returns, splits).pbo
    survives = dsr >= SURVIVAL_DSR and not (pbo >= 0.5)
    return Survival(name, n, sr * math.sqrt(bars_per_year), ci.low, ci.high, psr, dsr, pbo, survives)


def _safe(compute: Callable[[], float]) -> float:
    """A probability, or NaN where the moments make it undefined (a flat series, extreme kurtosis)."""
    try:
        return float(compute())
    except DataError:
        return math.nan


def survival_frame(rows: list[Survival]) -> pd.DataFrame:
    """The rows as a table indexed by name."""
    return pd.DataFrame([r.as_row() for r in rows]).set_index("name")


def survival_markdown(rows: list[Survival]) -> list[str]:
    """A Markdown table: trials, Sharpe with its interval, PSR, DSR, PBO and the verdict."""
    lines = [
        "| agent | trials | Sharpe [95 % CI] | PSR | DSR | PBO | survives |",
        "|---|---:|---|---:|---:|---:|---|",
    ]
    for r in rows:
        pbo = "-" if math.isnan(r.pbo) else f"{r.pbo:.2f}"
        lines.append(
            f"| {r.name} | {r.trials} | {r.sharpe:.2f} [{r.sharpe_low:.2f}, {r.sharpe_high:.2f}] | "
            f"{_prob(r.psr)} | {_prob(r.dsr)} | {pbo} | {'yes' if r.survives else 'no'} |"
        )
    return lines


def _prob(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:.3f}"
