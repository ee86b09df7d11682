"""Tree forecasters on XGBoost (``tree_method=hist``, one thread): boosting, a random forest and classic GBM.

* ``xgboost``: regularised depth-wise boosting (L1/L2, column subsampling), early-stopped on validation.
* ``random_forest``: XGBoost's forest mode: one round of ``n_estimators`` parallel trees on bootstrap-like
  row samples (``subsample``) with per-node column sampling, learning rate 1, no early stopping.
* ``gbm``: Friedman-style stochastic gradient boosting: leaf-wise trees capped at ``max_leaves``, row
  subsampling, shrinkage, no L2 penalty, early-stopped on validation.

Each model is a pair of boosters on the latest row's features: a squared-error regressor of the scaled
forward return and a logistic classifier of its sign.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import xgboost as xgb

from asterrl.files import atomic_path, atomic_write_json
from asterrl.forecast.config import TreeConfig
from asterrl.forecast.models.base import Prediction, RowArray, TrainingSet, read_json

_TASKS = ("ret", "up")


class TreeForecaster:
    """A regressor + classifier booster pair of one tree family (``xgboost``, ``random_forest``, ``gbm``)."""

    def __init__(self, name: str, config: TreeConfig, columns: tuple[str, ...] = ()) -> None:
        self.name = name
        self.config = config
        self.columns = columns
        self.boosters: dict[str, xgb.Booster] = {}
        self.label_scale = 1.0

    @property
    def is_forest(self) -> bool:
        return self.name == "random_forest"

    def _params(self, task: str, seed: int) -> dict[str, Any]:
        c = self.config
        params: dict[str, Any] = {
            "objective": "reg:squarederror" if task == "ret" else "binary:logistic",
            "eval_metric": "rmse" if task == "ret" else "logloss",
            "tree_method": "hist",
            "nthread": 1,
            "seed": seed,
            "eta": c.learning_rate,
            "max_depth": c.max_depth,
            "subsample": c.subsample,
            "min_child_weight": c.min_child_weight,
            "lambda": c.reg_lambda,
            "alpha": c.reg_alpha,
            "verbosity": 0,
        }
        if self.is_forest:
            params |= {"num_parallel_tree": c.n_estimators, "colsample_bynode": c.colsample, "eta": 1.0}
        else:
            params["colsample_bytree"] = c.colsample
        if c.max_leaves > 0:
            params |= {"grow_policy": "lossguide", "max_leaves": c.max_leaves}
        return params

    def fit(self, data: TrainingSet, seed: int) -> dict[str, float]:
        """Train both boosters on the fit rows, early-stopping on the validation rows (not for the forest)."""
        self.columns = data.columns
        self.label_scale = data.label_scale
        targets = {"ret": data.label / data.label_scale, "up": data.up}
        facts: dict[str, float] = {}
        for task in _TASKS:
            train = xgb.DMatrix(
                data.design[data.fit_rows], targets[task][data.fit_rows], feature_names=list(data.columns)
            )
            valid = xgb.DMatrix(
                data.design[data.val_rows], targets[task][data.val_rows], feature_names=list(data.columns)
            )
            rounds = 1 if self.is_forest else self.config.n_estimators
            stop = self.config.early_stopping if not self.is_forest and self.config.early_stopping else None
            booster = xgb.train(
                self._params(task, seed), train, num_boost_round=rounds, evals=[(valid, "val")],
                early_stopping_rounds=stop, verbose_eval=False,
            )  # fmt: skip
            if stop is not None:
                booster = booster[: booster.best_iteration + 1]
            self.boosters[task] = booster
            facts[f"{task}_rounds"] = float(booster.num_boosted_rounds())
        return facts

    def predict(self, design: npt.NDArray[np.float32], rows: RowArray) -> Prediction:
        matrix = xgb.DMatrix(design[rows], feature_names=list(self.columns))
        ret = self.boosters["ret"].predict(matrix).astype(np.float64) * self.label_scale
        p_up = self.boosters["up"].predict(matrix).astype(np.float64)
        return Prediction(ret, p_up)

    def gain_importance(self) -> dict[str, float]:
        """Total split gain per column, each booster normalised to sum 1, averaged over the two."""
        total = dict.fromkeys(self.columns, 0.0)
        for booster in self.boosters.values():
            gains = {k: float(v) for k, v in booster.get_score(importance_type="total_gain").items()}  # type: ignore[arg-type]
            norm = sum(gains.values()) or 1.0
            for column, gain in gains.items():
                total[column] += gain / norm / len(self.boosters)
        return total

    def save(self, directory: Path) -> None:
        for task, booster in self.boosters.items():
            with atomic_path(directory / f"{self.name}_{task}.json") as temporary:
                booster.save_model(temporary)
        atomic_write_json(
            directory / f"{self.name}.json",
            {
                "kind": "tree",
                "name": self.name,
                "config": asdict(self.config),
                "columns": list(self.columns),
                "label_scale": self.label_scale,
            },
        )

    @classmethod
    def load(cls, directory: Path, name: str) -> TreeForecaster:
        meta = read_json(directory / f"{name}.json")
        model = cls(name, TreeConfig(**meta["config"]), tuple(meta["columns"]))
        model.label_scale = float(meta["label_scale"])
        for task in _TASKS:
            booster = xgb.Booster()
            booster.load_model(directory / f"{name}_{task}.json")
            model.boosters[task] = booster
        return model
