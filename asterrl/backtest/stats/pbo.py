"""Probability of backtest overfitting by combinatorially symmetric cross-validation (CSCV).

Bailey, D. H., Borwein, J. M., López de Prado, M. and Zhu, Q. J. (2017), "The Probability of Backtest
Overfitting", Journal of Computational Finance 20(4) (working paper 2015), §2–3: the ``(T, N)`` matrix of
per-bar returns of the N configurations a search tried is cut into ``S`` (even) blocks of consecutive
bars; each of the ``C(S, S/2)`` ways to pick half the blocks is an in-sample (IS) set, the rest its
out-of-sample (OOS) set. In each, the configuration best IS is found, its OOS relative rank
``w = rank / (N + 1)`` taken and the logit ``ln(w / (1 - w))`` recorded. PBO is the share of logits
``<= 0``: how often the IS winner does no better than the OOS median. The paper's companion statistics:
the slope of OOS on IS performance of the winners (performance degradation) and the probability that the
IS winner loses OOS.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from asterrl.errors import DataError

FloatArray = npt.NDArray[np.float64]
PerformanceMetric = Literal["sharpe", "mean"]

#: Performance values held per vectorised batch of combinations (about 8 MB per temporary array).
_BATCH_VALUES = 1_000_000


@dataclass(frozen=True, slots=True)
class OverfittingReport:
    """The CSCV statistics of one search.

    :param pbo: probability of backtest overfitting, share of logits ``<= 0``.
    :param logits: one logit of the IS winner's OOS relative rank per combination.
    :param is_performance: the IS winner's IS performance per combination (per bar).
    :param oos_performance: the same configuration's OOS performance per combination (per bar).
    :param degradation_slope: least-squares slope of ``oos_performance`` on ``is_performance``.
    :param probability_of_loss: share of combinations whose IS winner has OOS performance < 0.
    :param n_splits: blocks ``S``.
    :param n_strategies: configurations ``N``.
    :param block_bars: bars per block (the first ``T mod S`` bars are left out).
    :param metric: ``sharpe`` (per-bar Sharpe, sample std) or ``mean`` (mean per-bar return).
    """

    pbo: float
    logits: FloatArray
    is_performance: FloatArray
    oos_performance: FloatArray
    degradation_slope: float
    probability_of_loss: float
    n_splits: int
    n_strategies: int
    block_bars: int
    metric: str

    @property
    def n_combinations(self) -> int:
        return int(self.logits.size)


def probability_of_backtest_overfitting(
    trial_returns: npt.ArrayLike, n_splits: int = 16, metric: PerformanceMetric = "sharpe"
) -> OverfittingReport:
    """CSCV on a ``(T, N)`` matrix of per-bar returns, one column per configuration tried.

    :param trial_returns: per-bar simple returns, bars in rows, configurations in columns (N >= 2).
    :param n_splits: even number of blocks ``S`` (16 gives 12,870 combinations, as in the paper).
    :param metric: performance measured in each half: per-bar Sharpe or mean return.
    """
    m = np.asarray(trial_returns, dtype=np.float64)
    if m.ndim != 2 or m.shape[1] < 2:
        raise DataError(
            f"trial returns must be a (bars, configurations) matrix with >= 2 columns, got {m.shape}"
        )
    if n_splits < 2 or n_splits % 2:
        raise DataError(f"n_splits must be an even number >= 2, got {n_splits}")
    if metric not in ("sharpe", "mean"):
        raise DataError(f"unknown performance metric {metric!r} (sharpe, mean)")
    t, n = m.shape
    block = t // n_splits
    if block < 2:
        raise DataError(f"{t} bars are too few for {n_splits} blocks of at least 2 bars")
    if not np.all(np.isfinite(m)):
        raise DataError("trial returns contain NaN or infinite values")
    blocks = m[t - block * n_splits :].reshape(n_splits, block, n)
    sums, squares = blocks.sum(axis=1), (blocks**2).sum(axis=1)  # (S, N)
    combos = np.array(list(itertools.combinations(range(n_splits), n_splits // 2)), dtype=np.int64)
    member = np.zeros((combos.shape[0], n_splits))
    member[np.arange(combos.shape[0])[:, None], combos] = 1.0
    half_bars = block * n_splits // 2
    logits, is_best, oos_best = [], [], []
    batch = max(1, _BATCH_VALUES // n)
    for lo in range(0, member.shape[0], batch):
        mb = member[lo : lo + batch]
        perf_is = _performance(mb @ sums, mb @ squares, half_bars, metric)
        perf_oos = _performance((1.0 - mb) @ sums, (1.0 - mb) @ squares, half_bars, metric)
        winner = np.argmax(perf_is, axis=1)
        rows = np.arange(mb.shape[0])
        w_oos = perf_oos[rows, winner]
        below = np.sum(perf_oos < w_oos[:, None], axis=1)
        ties = np.sum(perf_oos == w_oos[:, None], axis=1)
        rank = below + (ties + 1) / 2.0  # 1 = worst OOS, N = best; ties share the mean rank
        omega = rank / (n + 1.0)
        logits.append(np.log(omega / (1.0 - omega)))
        is_best.append(perf_is[rows, winner])
        oos_best.append(w_oos)
    lam, x, y = np.concatenate(logits), np.concatenate(is_best), np.concatenate(oos_best)
    vx = float(np.var(x))
    slope = float(np.mean((x - x.mean()) * (y - y.mean())) / vx) if vx > 1e-30 else math.nan
    return OverfittingReport(
        pbo=float(np.mean(lam <= 0.0)),
        logits=lam,
        is_performance=x,
        oos_performance=y,
        degradation_slope=slope,
        probability_of_loss=float(np.mean(y < 0.0)),
        n_splits=n_splits,
        n_strategies=n,
        block_bars=block,
        metric=metric,
    )


def _performance(sums: FloatArray, squares: FloatArray, bars: int, metric: str) -> FloatArray:
    """Per-bar mean or Sharpe (sample std) from sums and sums of squares over ``bars`` returns."""
    mean = sums / bars
    if metric == "mean":
        return mean
    var = np.maximum(squares - bars * mean * mean, 0.0) / (bars - 1)
    sd = np.sqrt(var)
    return np.where(sd > 1e-15, mean / np.where(sd > 1e-15, sd, 1.0), 0.0)
