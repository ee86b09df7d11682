"""Forecast quality: directional accuracy, information coefficient, log loss, RMSE, and naive baselines.

Every function ignores rows where the label or the forecast is NaN. Returns are log returns
(dimensionless); probabilities are P(forward return > 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

#: Probabilities are clipped to [EPS, 1 - EPS] inside the log loss.
EPS = 1e-7


def _pair(forecast: npt.ArrayLike, label: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    f = np.asarray(forecast, dtype=np.float64)
    y = np.asarray(label, dtype=np.float64)
    keep = np.isfinite(f) & np.isfinite(y)
    return f[keep], y[keep]


def directional_accuracy(forecast: npt.ArrayLike, label: npt.ArrayLike) -> float:
    """Share of rows where ``sign(forecast) == sign(label)``, over rows where both are non-zero.

    NaN when no such row exists (a forecast of exactly zero states no direction).
    """
    f, y = _pair(forecast, label)
    keep = (f != 0.0) & (y != 0.0)
    if not keep.any():
        return math.nan
    return float(np.mean(np.sign(f[keep]) == np.sign(y[keep])))


def average_ranks(values: npt.ArrayLike) -> FloatArray:
    """Ranks 1..n, ties sharing the mean of the ranks they span."""
    x = np.asarray(values, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    ranks = np.empty(x.shape[0])
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
    ends = np.r_[starts[1:], x.shape[0]]
    for a, b in zip(starts, ends, strict=True):
        ranks[order[a:b]] = 0.5 * (a + b - 1) + 1.0
    return ranks


def information_coefficient(forecast: npt.ArrayLike, label: npt.ArrayLike) -> float:
    """Spearman rank correlation of forecast and label; NaN with fewer than 3 rows or a constant side."""
    f, y = _pair(forecast, label)
    if f.shape[0] < 3:
        return math.nan
    rf, ry = average_ranks(f), average_ranks(y)
    rf -= rf.mean()
    ry -= ry.mean()
    denominator = math.sqrt(float(rf @ rf) * float(ry @ ry))
    return float(rf @ ry) / denominator if denominator > 0.0 else math.nan


def rmse(forecast: npt.ArrayLike, label: npt.ArrayLike) -> float:
    """Root mean squared error, in label units (log return)."""
    f, y = _pair(forecast, label)
    return float(np.sqrt(np.mean((f - y) ** 2))) if f.shape[0] else math.nan


def log_loss(probability_up: npt.ArrayLike, up: npt.ArrayLike) -> float:
    """Mean binary cross-entropy (nats) of ``P(up)`` against 0/1 outcomes; probabilities clipped to EPS."""
    p, y = _pair(probability_up, up)
    if not p.shape[0]:
        return math.nan
    p = np.clip(p, EPS, 1.0 - EPS)
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p)))


@dataclass(frozen=True)
class ForecastScores:
    """The four headline numbers of one forecast on one span."""

    directional_accuracy: float
    information_coefficient: float
    rmse: float
    log_loss: float
    n_rows: int

    def as_dict(self) -> dict[str, float]:
        return {
            "directional_accuracy": self.directional_accuracy,
            "information_coefficient": self.information_coefficient,
            "rmse": self.rmse,
            "log_loss": self.log_loss,
            "n_rows": float(self.n_rows),
        }


def score(ret_forecast: npt.ArrayLike, probability_up: npt.ArrayLike, label: npt.ArrayLike) -> ForecastScores:
    """Score a return forecast and an up-probability against the forward log return ``label``."""
    y = np.asarray(label, dtype=np.float64)
    up = np.where(np.isnan(y), np.nan, (y > 0.0).astype(np.float64))
    return ForecastScores(
        directional_accuracy(ret_forecast, y),
        information_coefficient(ret_forecast, y),
        rmse(ret_forecast, y),
        log_loss(probability_up, up),
        int(np.isfinite(y).sum()),
    )


def last_sign_baseline(
    trailing: FloatArray, train_trailing: FloatArray, train_label: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Naive "the last h-bar move repeats" forecast.

    Returns the trailing ``h``-bar log return as the return forecast, and as P(up) the training span's
    persistence rate ``q`` (share of training rows whose label kept the trailing move's sign): ``q`` after
    an up move, ``1 − q`` after a down move, 0.5 after no move.
    """
    keep = np.isfinite(train_trailing) & np.isfinite(train_label) & (train_trailing != 0.0)
    q = float(np.mean((train_label[keep] > 0.0) == (train_trailing[keep] > 0.0))) if keep.any() else 0.5
    sign = np.sign(trailing)
    probability = np.where(sign > 0, q, np.where(sign < 0, 1.0 - q, 0.5))
    return trailing.astype(np.float64), np.where(np.isnan(trailing), np.nan, probability)


def zero_baseline(n: int) -> tuple[FloatArray, FloatArray]:
    """Naive "no move" forecast: return 0 and P(up) = 0.5 (log loss ln 2; no direction, no IC)."""
    return np.zeros(n), np.full(n, 0.5)
