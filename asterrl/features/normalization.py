"""Column scaling: a causal rolling z-score, or a z-score fitted on the training span only.

Statistics are per column; a column whose training std is zero is only centred. Values past the warm-up
that are still undefined (see ``FeatureDef.may_be_undefined``) become 0, the column's neutral value after
scaling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from asterrl.errors import ConfigError
from asterrl.features.config import NormalizationConfig, NormalizationMode
from asterrl.features.kernels.rolling import rolling_mean_var


@dataclass(frozen=True)
class ColumnStats:
    """Mean and standard deviation of each column over the fitted span (rows ``start`` to ``stop``)."""

    mean: np.ndarray
    std: np.ndarray
    start: int
    stop: int

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (floats written with full precision by ``json``)."""
        return {"mean": self.mean.tolist(), "std": self.std.tolist(), "start": self.start, "stop": self.stop}

    @classmethod
    def from_dict(cls, payload: dict[str, object]) -> ColumnStats:
        """Inverse of ``to_dict``."""
        mean = np.asarray(payload["mean"], dtype=np.float64)
        std = np.asarray(payload["std"], dtype=np.float64)
        if mean.shape != std.shape:
            raise ConfigError("normalisation statistics: mean and std differ in length")
        return cls(mean, std, int(payload["start"]), int(payload["stop"]))  # type: ignore[call-overload]


@njit(cache=True, nogil=True)
def _scale(column: np.ndarray, mean: float, std: float, clip: float) -> np.ndarray:
    out = np.empty(column.shape[0])
    inverse = 1.0 / std if std > 0.0 else 1.0
    for i in range(column.shape[0]):
        value = (column[i] - mean) * inverse
        if clip > 0.0:
            value = min(max(value, -clip), clip)
        out[i] = value
    return out


@njit(cache=True, nogil=True)
def rolling_normalize(column: np.ndarray, window: int, clip: float) -> np.ndarray:
    """Causal z-score of ``column`` over the last ``window`` values (0 on a flat window), clipped."""
    mean, var = rolling_mean_var(column, window)
    out = np.full(column.shape[0], np.nan)
    for i in range(column.shape[0]):
        if np.isnan(var[i]):
            continue
        value = (column[i] - mean[i]) / np.sqrt(var[i]) if var[i] > 0.0 else 0.0
        if clip > 0.0:
            value = min(max(value, -clip), clip)
        out[i] = value
    return out


def column_stats(column: np.ndarray) -> tuple[float, float]:
    """Mean and population std of the finite values of ``column`` (0 and 1 when none are finite)."""
    finite = column[np.isfinite(column)]
    if finite.size == 0:
        return 0.0, 1.0
    return float(finite.mean()), float(finite.std())


def normalize_column(
    column: np.ndarray, config: NormalizationConfig, stats: ColumnStats | None, index: int
) -> np.ndarray:
    """Scale one float64 column according to ``config`` (``stats`` required in fitted mode)."""
    if config.mode is NormalizationMode.NONE:
        return column
    if config.mode is NormalizationMode.ROLLING:
        return rolling_normalize(np.ascontiguousarray(column), config.window, config.clip)
    if stats is None:
        raise ConfigError(
            "fitted normalisation needs statistics: call FeaturePipeline.fit on the training span"
        )
    return _scale(
        np.ascontiguousarray(column), float(stats.mean[index]), float(stats.std[index]), config.clip
    )


def validate(config: NormalizationConfig) -> NormalizationConfig:
    """Check ranges and coerce the mode; returns a new config."""
    mode = NormalizationMode(config.mode)
    if mode is NormalizationMode.ROLLING and config.window < 2:
        raise ConfigError(f"features.normalization.window must be >= 2, got {config.window}")
    if config.clip < 0:
        raise ConfigError(f"features.normalization.clip must be >= 0, got {config.clip}")
    return NormalizationConfig(mode=mode, window=int(config.window), clip=float(config.clip))
