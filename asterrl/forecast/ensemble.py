"""Stacked ensemble: a meta-learner on the base models' out-of-fold forecasts.

Returns: ridge regression of the label on the base return forecasts. Up-probabilities: L2-penalised
logistic regression on the base models' logits (Newton's method). Inputs are standardised with the meta
training rows' statistics. With fewer than ``min_rows`` rows the ensemble is the equal-weight mean of the
base forecasts (no fitted weights), which is what the first walk-forward fold gets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
_CLIP = 1e-6


def _logit(p: FloatArray) -> FloatArray:
    q = np.clip(p, _CLIP, 1.0 - _CLIP)
    return np.log(q / (1.0 - q))


def _standardise(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    return mean, np.where(std > 1e-12, std, 1.0)


def fit_ridge(x: FloatArray, y: FloatArray, penalty: float) -> tuple[FloatArray, float]:
    """Weights and intercept minimising ``|y − b − x w|² + penalty |w|²`` (intercept not penalised)."""
    xm, ym = x.mean(axis=0), float(y.mean())
    xc = x - xm
    gram = xc.T @ xc + penalty * np.eye(x.shape[1])
    w = np.linalg.solve(gram, xc.T @ (y - ym))
    return w, ym - float(xm @ w)


def fit_logistic(
    x: FloatArray, y: FloatArray, penalty: float, iterations: int = 50
) -> tuple[FloatArray, float]:
    """Weights and intercept of an L2-penalised logistic regression (intercept not penalised), by Newton."""
    design = np.column_stack([np.ones(x.shape[0]), x])
    beta = np.zeros(design.shape[1])
    ridge = penalty * np.eye(design.shape[1])
    ridge[0, 0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(design @ beta)))
        gradient = design.T @ (p - y) + ridge @ beta
        hessian = (design * (p * (1.0 - p))[:, None]).T @ design + ridge + 1e-9 * np.eye(design.shape[1])
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.max(np.abs(step)) < 1e-10:
            break
    return beta[1:], float(beta[0])


@dataclass
class StackedEnsemble:
    """Meta-learner over base forecasts ``(rows, models)``; ``fitted`` False means the equal-weight mean."""

    models: tuple[str, ...]
    penalty: float = 1.0
    fitted: bool = False
    ret_mean: FloatArray = field(default_factory=lambda: np.zeros(0))
    ret_std: FloatArray = field(default_factory=lambda: np.zeros(0))
    ret_weights: FloatArray = field(default_factory=lambda: np.zeros(0))
    ret_intercept: float = 0.0
    up_mean: FloatArray = field(default_factory=lambda: np.zeros(0))
    up_std: FloatArray = field(default_factory=lambda: np.zeros(0))
    up_weights: FloatArray = field(default_factory=lambda: np.zeros(0))
    up_intercept: float = 0.0
    n_rows: int = 0

    def fit(self, ret: FloatArray, p_up: FloatArray, label: FloatArray, min_rows: int) -> StackedEnsemble:
        """Fit on rows where every base forecast and the label are finite (else stay the mean)."""
        keep = np.isfinite(ret).all(axis=1) & np.isfinite(p_up).all(axis=1) & np.isfinite(label)
        self.n_rows = int(keep.sum())
        if self.n_rows < max(min_rows, 2 * len(self.models) + 2):
            self.fitted = False
            return self
        r, z, y = ret[keep], _logit(p_up[keep]), label[keep]
        self.ret_mean, self.ret_std = _standardise(r)
        self.ret_weights, self.ret_intercept = fit_ridge((r - self.ret_mean) / self.ret_std, y, self.penalty)
        self.up_mean, self.up_std = _standardise(z)
        self.up_weights, self.up_intercept = fit_logistic(
            (z - self.up_mean) / self.up_std, (y > 0.0).astype(np.float64), self.penalty
        )
        self.fitted = True
        return self

    def predict(self, ret: FloatArray, p_up: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Ensemble return forecast and P(up) per row (NaN where a base forecast is NaN)."""
        if not self.fitted:
            return ret.mean(axis=1), p_up.mean(axis=1)
        out_ret = self.ret_intercept + ((ret - self.ret_mean) / self.ret_std) @ self.ret_weights
        score = self.up_intercept + ((_logit(p_up) - self.up_mean) / self.up_std) @ self.up_weights
        out_p = 1.0 / (1.0 + np.exp(-score))
        bad = ~(np.isfinite(ret).all(axis=1) & np.isfinite(p_up).all(axis=1))
        out_ret[bad] = np.nan
        out_p[bad] = np.nan
        return out_ret, out_p

    def to_dict(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "models": list(self.models), "penalty": self.penalty, "fitted": self.fitted,
            "n_rows": self.n_rows,
            "ret_intercept": self.ret_intercept, "up_intercept": self.up_intercept,
        }  # fmt: skip
        for key in ("ret_mean", "ret_std", "ret_weights", "up_mean", "up_std", "up_weights"):
            payload[key] = np.asarray(getattr(self, key)).tolist()
        return payload

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> StackedEnsemble:
        arrays = {
            key: np.asarray(payload[key], dtype=np.float64)
            for key in ("ret_mean", "ret_std", "ret_weights", "up_mean", "up_std", "up_weights")
        }
        return cls(
            tuple(payload["models"]), float(payload["penalty"]), bool(payload["fitted"]),
            ret_intercept=float(payload["ret_intercept"]), up_intercept=float(payload["up_intercept"]),
            n_rows=int(payload["n_rows"]), **arrays,
        )  # fmt: skip
