"""What every forecaster shares: the fold's design matrix, the column scaler and the model protocol.

A model sees a *design*: the feature matrix z-scored with statistics of the fold's fit rows only, clipped,
float32, one row per bar. Rows are bar indices into it; a sequence model reads rows ``t − window + 1 .. t``
for a forecast at ``t``, a tree model row ``t`` alone. Each model predicts two things per row: the forward
log return (regression, in label units) and P(forward return > 0) (classification).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from asterrl.errors import DataError

FloatArray = npt.NDArray[np.float64]
RowArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class ColumnScaler:
    """Per-column z-score (mean, std of the fit rows) with symmetric clipping at ``clip`` std (0: none)."""

    mean: FloatArray
    std: FloatArray
    clip: float

    @classmethod
    def fit(cls, raw: npt.NDArray[np.floating[Any]], rows: RowArray, clip: float) -> ColumnScaler:
        """Statistics of ``raw[rows]``; a column constant on those rows gets std 1 (it scales to 0)."""
        block = np.asarray(raw[rows], dtype=np.float64)
        if not np.isfinite(block).all():
            raise DataError("feature rows used for fitting hold NaN or inf (check the feature warm-up)")
        mean = block.mean(axis=0)
        std = block.std(axis=0)
        std = np.where(std > 1e-12, std, 1.0)
        return cls(mean, std, float(clip))

    def transform(self, raw: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float32]:
        """Scaled float32 copy; NaN (warm-up rows, never used as inputs) become 0."""
        z = (np.asarray(raw, dtype=np.float64) - self.mean) / self.std
        if self.clip > 0.0:
            z = np.clip(z, -self.clip, self.clip)
        return np.ascontiguousarray(np.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0), dtype=np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean.tolist(), "std": self.std.tolist(), "clip": self.clip}

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> ColumnScaler:
        return cls(np.asarray(payload["mean"]), np.asarray(payload["std"]), float(payload["clip"]))


@dataclass(frozen=True)
class Prediction:
    """A model's forecasts for some rows: forward log return and P(up)."""

    ret: FloatArray
    p_up: FloatArray


@dataclass(frozen=True)
class TrainingSet:
    """Inputs of one fold: scaled design, labels and the rows to fit and to validate on.

    :param label_scale: std of the fit rows' labels; regression targets are divided by it while training
        and forecasts multiplied back, so every model works in comparable units.
    """

    design: npt.NDArray[np.float32]
    label: FloatArray
    fit_rows: RowArray
    val_rows: RowArray
    columns: tuple[str, ...]
    window: int
    label_scale: float

    @property
    def up(self) -> FloatArray:
        return (self.label > 0.0).astype(np.float64)


class ForecastModel(Protocol):
    """A base forecaster: fit on one fold, predict any rows, save and reload itself."""

    name: str

    def fit(self, data: TrainingSet, seed: int) -> dict[str, float]:
        """Train; return training facts (e.g. ``epochs``, ``best_iteration``, ``val_loss``)."""
        ...

    def predict(self, design: npt.NDArray[np.float32], rows: RowArray) -> Prediction:
        """Forecasts for ``rows`` of a design scaled like the training one."""
        ...

    def gain_importance(self) -> dict[str, float] | None:
        """Share of total split gain per column (trees), ``None`` for models without it."""
        ...

    def save(self, directory: Path) -> None:
        """Write weights (torch ``state_dict`` / XGBoost JSON) and a JSON description under ``directory``."""
        ...


def read_json(path: Path) -> dict[str, Any]:
    try:
        payload: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"{path}: missing forecast artifact file") from None
    return payload
