"""Tiny forecast configs and a synthetic market for the forecast tests."""

from __future__ import annotations

import pytest

from asterrl.data.config import DataConfig, SourceName
from asterrl.data.market import MarketData, load_market
from asterrl.forecast.config import (
    EnsembleConfig,
    FoldConfig,
    ForecastConfig,
    ImportanceConfig,
    NetConfig,
    TreeConfig,
)


def tiny_config(**overrides: object) -> ForecastConfig:
    """Every model, a few seconds in all: small networks, two epochs, a few dozen trees."""
    cfg = ForecastConfig(
        horizon=3,
        window=8,
        folds=FoldConfig(n_folds=3, min_train_fraction=0.45),
        lstm=NetConfig(hidden=6, layers=3, epochs=2, batch_size=64, max_samples_per_epoch=512),
        cnn=NetConfig(hidden=6, layers=2, kernel=3, epochs=2, batch_size=64, max_samples_per_epoch=512),
        xgboost=TreeConfig(n_estimators=15, early_stopping=5),
        random_forest=TreeConfig(
            n_estimators=8, learning_rate=1.0, max_depth=4, subsample=0.632, colsample=0.5, early_stopping=0
        ),
        gbm=TreeConfig(n_estimators=15, max_depth=0, max_leaves=7, early_stopping=5),
        ensemble=EnsembleConfig(min_rows=40),
        importance=ImportanceConfig(enabled=False),
        device="cpu",
    )
    for key, value in overrides.items():
        setattr(cfg, key, value)
    return cfg


def synthetic_data_config(start: str = "2023-01-01", end: str = "2023-02-20") -> DataConfig:
    return DataConfig(source=SourceName.SYNTHETIC, fallback=[], start=start, end=end)


@pytest.fixture(scope="session")
def synthetic_market() -> MarketData:
    """About 1200 hourly bars of the seeded synthetic perpetual."""
    return load_market(synthetic_data_config(), seed=3, show_progress=False)
