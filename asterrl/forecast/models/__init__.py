"""Base forecasters: ``lstm`` and ``cnn`` (torch), ``xgboost``, ``random_forest`` and ``gbm`` (XGBoost)."""

from __future__ import annotations

from pathlib import Path

from asterrl.forecast.config import ForecastConfig
from asterrl.forecast.models.base import (
    ColumnScaler,
    ForecastModel,
    Prediction,
    TrainingSet,
)
from asterrl.forecast.models.sequence import SequenceForecaster
from asterrl.forecast.models.trees import TreeForecaster

SEQUENCE_MODELS = ("lstm", "cnn")


def build_model(name: str, config: ForecastConfig) -> ForecastModel:
    """An untrained model ``name`` with its settings from ``config``."""
    if name in SEQUENCE_MODELS:
        return SequenceForecaster(name, getattr(config, name), config.window, config.device)
    return TreeForecaster(name, getattr(config, name))


def load_model(directory: Path, name: str, device: str = "auto") -> ForecastModel:
    """A model saved by ``save`` in ``directory``."""
    if name in SEQUENCE_MODELS:
        return SequenceForecaster.load(directory, name, device)
    return TreeForecaster.load(directory, name)


__all__ = [
    "SEQUENCE_MODELS",
    "ColumnScaler",
    "ForecastModel",
    "Prediction",
    "SequenceForecaster",
    "TrainingSet",
    "TreeForecaster",
    "build_model",
    "load_model",
]
