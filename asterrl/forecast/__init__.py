"""Supervised forecasts of the forward log return and its sign, generated walk-forward out of fold.

``train_forecasts(data, features, forecast)`` trains the configured models (LSTM with attention, 1-D CNN,
XGBoost, random forest, GBM and a stacked ensemble) over purged, embargoed walk-forward folds and writes an
artifact directory; ``forecast_features(dir, timestamps)`` returns its out-of-fold columns for the RL
observation and ``Forecaster.load(dir)`` forecasts the newest bars live.
"""

from asterrl.forecast.artifacts import Forecaster, read_manifest, read_oof
from asterrl.forecast.config import (
    MODEL_NAMES,
    EnsembleConfig,
    FinalModels,
    FoldConfig,
    FoldScheme,
    ForecastConfig,
    ImportanceConfig,
    NetConfig,
    TreeConfig,
)
from asterrl.forecast.folds import Fold, FoldPlan, make_fold_plan, purged_training_mask
from asterrl.forecast.observation import append_columns, forecast_features, with_forecasts
from asterrl.forecast.run import ForecastRun, train_forecasts
from asterrl.forecast.targets import forward_log_return, up_label
from asterrl.forecast.walkforward import WalkForwardResult, run_walk_forward

__all__ = [
    "MODEL_NAMES",
    "EnsembleConfig",
    "FinalModels",
    "Fold",
    "FoldConfig",
    "FoldPlan",
    "FoldScheme",
    "ForecastConfig",
    "ForecastRun",
    "Forecaster",
    "ImportanceConfig",
    "NetConfig",
    "TreeConfig",
    "WalkForwardResult",
    "append_columns",
    "forecast_features",
    "forward_log_return",
    "make_fold_plan",
    "purged_training_mask",
    "read_manifest",
    "read_oof",
    "run_walk_forward",
    "train_forecasts",
    "up_label",
    "with_forecasts",
]
