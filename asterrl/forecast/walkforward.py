"""Walk-forward out-of-fold forecasts: every bar's forecast from models that never saw its label.

For each fold of the plan: z-score the raw features with the fit rows' statistics, train every base model
(fit rows, early stopping on the purged validation rows), forecast the test span, and fit the stacked
ensemble on the out-of-fold forecasts of earlier folds whose labels are known before the span starts. Bars
before the first test span get no forecast (NaN). Models of each fold are saved under ``models/fold_KK``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from asterrl.errors import DataError
from asterrl.files import atomic_write_json
from asterrl.forecast.config import FinalModels, ForecastConfig
from asterrl.forecast.ensemble import StackedEnsemble
from asterrl.forecast.folds import Fold, FoldPlan, make_fold_plan, refit_fold
from asterrl.forecast.importance import permutation_importance
from asterrl.forecast.metrics import last_sign_baseline, score, zero_baseline
from asterrl.forecast.models import ColumnScaler, ForecastModel, TrainingSet, build_model
from asterrl.forecast.targets import forward_log_return, trailing_log_return

log = logging.getLogger(__name__)
FloatArray = npt.NDArray[np.float64]
ENSEMBLE = "ensemble"
BASELINES = ("last_sign", "zero")


@dataclass
class WalkForwardResult:
    """Out-of-fold forecasts and everything measured on the way.

    :param ret: forward-return forecasts ``(n_bars, len(outputs))``, NaN where no fold tested the bar.
    :param p_up: P(forward return > 0), same shape.
    :param fold: index of the fold that forecast each bar (-1: none).
    :param label_scale: std of the training labels of that fold (NaN: none), for scale-free observations.
    :param fold_metrics: one dict per (fold, model or baseline) with the four scores.
    :param train_seconds: fit time per model (and ``ensemble``) per fold, seconds.
    """

    plan: FoldPlan
    outputs: tuple[str, ...]
    timestamp: npt.NDArray[np.int64]
    label: FloatArray
    ret: FloatArray
    p_up: FloatArray
    fold: npt.NDArray[np.int64]
    label_scale: FloatArray
    fold_metrics: list[dict[str, Any]] = field(default_factory=list)
    pooled_metrics: list[dict[str, Any]] = field(default_factory=list)
    gain: dict[str, dict[str, float]] = field(default_factory=dict)
    permutation: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    train_seconds: dict[str, list[float]] = field(default_factory=dict)
    train_facts: list[dict[str, Any]] = field(default_factory=list)
    final_dir: str = ""

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(o for o in self.outputs if o != ENSEMBLE)


def first_usable_row(raw: npt.NDArray[np.floating[Any]], feature_warmup: int, window: int) -> int:
    """First row whose ``window`` feature rows are all finite."""
    bad = np.flatnonzero(~np.isfinite(raw).all(axis=1))
    finite_from = int(bad[-1]) + 1 if bad.size else 0
    return max(finite_from, feature_warmup) + window - 1


def _training_set(raw: FloatArray, label: FloatArray, fold: Fold, cfg: ForecastConfig, clip: float,
                  columns: tuple[str, ...]) -> tuple[TrainingSet, ColumnScaler]:  # fmt: skip
    scaler = ColumnScaler.fit(raw, fold.fit_rows, clip)
    scale = float(np.std(label[fold.fit_rows]))
    if not math.isfinite(scale) or scale <= 0.0:
        raise DataError(f"fold {fold.index}: the training labels are constant (flat prices?)")
    data = TrainingSet(scaler.transform(raw), label, fold.fit_rows, fold.val_rows, columns, cfg.window, scale)
    return data, scaler


def _train_fold(
    data: TrainingSet, fold: Fold, cfg: ForecastConfig, seed: int, directory: Path,
    result: WalkForwardResult,
) -> dict[str, ForecastModel]:  # fmt: skip
    directory.mkdir(parents=True, exist_ok=True)
    trained: dict[str, ForecastModel] = {}
    for m, name in enumerate(cfg.models):
        model_seed = seed * 1_000_003 + fold.index * 101 + m
        model = build_model(name, cfg)
        started = time.perf_counter()
        facts = model.fit(data, model_seed)
        seconds = time.perf_counter() - started
        result.train_seconds.setdefault(name, []).append(seconds)
        result.train_facts.append({"fold": fold.index, "model": name, "seconds": seconds, **facts})
        log.info("fold %d %s: %.1f s %s", fold.index, name, seconds, facts)
        model.save(directory)
        gains = model.gain_importance()
        if gains is not None:
            per_model = result.gain.setdefault(name, dict.fromkeys(data.columns, 0.0))
            for column, share in gains.items():
                per_model[column] += share
        trained[name] = model
    return trained


def run_walk_forward(
    raw: npt.NDArray[np.floating[Any]],
    columns: tuple[str, ...],
    close: npt.ArrayLike,
    timestamp: npt.ArrayLike,
    feature_warmup: int,
    cfg: ForecastConfig,
    model_root: Path,
    seed: int = 0,
    clip: float = 5.0,
    progress: Callable[[str], None] | None = None,
) -> WalkForwardResult:
    """Train and forecast every fold, then the final models; save the models under ``model_root``.

    :param raw: unscaled feature matrix ``(n_bars, n_features)``; row t uses data up to bar t's close.
    :param close: bar closes (quote currency) the labels come from.
    :param feature_warmup: rows before every feature is defined.
    :param clip: z-scores are clipped to ``[−clip, clip]`` (0: no clipping).
    """
    cfg.validate()
    torch.set_num_threads(cfg.torch_threads)
    raw64 = np.asarray(raw, dtype=np.float64)
    n = raw64.shape[0]
    close64 = np.asarray(close, dtype=np.float64)
    stamps = np.asarray(timestamp, dtype=np.int64)
    label = forward_log_return(close64, cfg.horizon)
    first_row = first_usable_row(raw64, feature_warmup, cfg.window)
    plan = make_fold_plan(n, first_row, cfg.horizon, cfg.folds, cfg.embargo, stamps)
    outputs = (*cfg.models, ENSEMBLE) if cfg.ensemble.enabled else tuple(cfg.models)
    m = len(cfg.models)
    result = WalkForwardResult(
        plan, outputs, stamps, label, np.full((n, len(outputs)), np.nan), np.full((n, len(outputs)), np.nan),
        np.full(n, -1, dtype=np.int64), np.full(n, np.nan),
    )  # fmt: skip
    trailing = trailing_log_return(close64, cfg.horizon)
    gap = cfg.horizon + cfg.folds.purge
    ensemble = StackedEnsemble(tuple(cfg.models), cfg.ensemble.ridge)
    for fold in plan.folds:
        if progress is not None:
            progress(
                f"fold {fold.index + 1}/{len(plan.folds)}: test rows {fold.test_start}..{fold.test_end - 1}"
            )
        data, scaler = _training_set(raw64, label, fold, cfg, clip, columns)
        directory = model_root / f"fold_{fold.index:02d}"
        trained = _train_fold(data, fold, cfg, seed, directory, result)
        atomic_write_json(directory / "scaler.json", scaler.to_dict())
        rows = fold.test_rows
        for j, name in enumerate(cfg.models):
            prediction = trained[name].predict(data.design, rows)
            result.ret[rows, j] = prediction.ret
            result.p_up[rows, j] = prediction.p_up
        result.fold[rows] = fold.index
        result.label_scale[rows] = data.label_scale
        if cfg.ensemble.enabled:
            started = time.perf_counter()
            known = np.flatnonzero((result.fold >= 0) & (np.arange(n) + gap < fold.test_start))
            ensemble = StackedEnsemble(tuple(cfg.models), cfg.ensemble.ridge).fit(
                result.ret[known, :m], result.p_up[known, :m], label[known], cfg.ensemble.min_rows
            )
            result.ret[rows, m], result.p_up[rows, m] = ensemble.predict(
                result.ret[rows, :m], result.p_up[rows, :m]
            )
            result.train_seconds.setdefault(ENSEMBLE, []).append(time.perf_counter() - started)
            atomic_write_json(directory / "ensemble.json", ensemble.to_dict())
        _score_fold(result, fold, trailing, data)
        if cfg.importance.enabled and fold.index == len(plan.folds) - 1:
            _permutation(result, trained, data, fold, cfg, seed)
    for per_model in result.gain.values():
        for column in per_model:
            per_model[column] /= len(plan.folds)
    _score_pooled(result, trailing)
    result.final_dir = _final_models(result, raw64, label, cfg, model_root, seed, clip, columns, progress)
    return result


def _score_fold(result: WalkForwardResult, fold: Fold, trailing: FloatArray, data: TrainingSet) -> None:
    rows = fold.test_rows
    y = result.label[rows]
    labelled = rows[np.isfinite(y)]
    if labelled.size == 0:
        return
    y = result.label[labelled]
    span = {"fold": fold.index, "test_start": fold.test_start, "test_end": fold.test_end}
    for j, name in enumerate(result.outputs):
        scores = score(result.ret[labelled, j], result.p_up[labelled, j], y)
        result.fold_metrics.append({**span, "model": name, **scores.as_dict()})
    fit = data.fit_rows
    naive = {
        "last_sign": last_sign_baseline(trailing[labelled], trailing[fit], result.label[fit]),
        "zero": zero_baseline(labelled.size),
    }
    for name, (ret, p_up) in naive.items():
        result.fold_metrics.append({**span, "model": name, **score(ret, p_up, y).as_dict()})


def _score_pooled(result: WalkForwardResult, trailing: FloatArray) -> None:
    """Scores over every labelled out-of-fold bar (baselines with their per-fold persistence rates)."""
    rows = np.flatnonzero((result.fold >= 0) & np.isfinite(result.label))
    y = result.label[rows]
    for j, name in enumerate(result.outputs):
        result.pooled_metrics.append(
            {"model": name, **score(result.ret[rows, j], result.p_up[rows, j], y).as_dict()}
        )
    plan = result.plan
    ret_ls = np.full(rows.size, np.nan)
    p_ls = np.full(rows.size, np.nan)
    for fold in plan.folds:
        inside = (rows >= fold.test_start) & (rows < fold.test_end)
        r, p = last_sign_baseline(
            trailing[rows[inside]], trailing[fold.fit_rows], result.label[fold.fit_rows]
        )
        ret_ls[inside], p_ls[inside] = r, p
    result.pooled_metrics.append({"model": "last_sign", **score(ret_ls, p_ls, y).as_dict()})
    zero_ret, zero_p = zero_baseline(rows.size)
    result.pooled_metrics.append({"model": "zero", **score(zero_ret, zero_p, y).as_dict()})


def _permutation(
    result: WalkForwardResult, trained: dict[str, ForecastModel], data: TrainingSet, fold: Fold,
    cfg: ForecastConfig, seed: int,
) -> None:  # fmt: skip
    rows = fold.test_rows[np.isfinite(result.label[fold.test_rows])][-cfg.importance.max_rows :]
    if rows.size < 10:
        return
    for name, model in trained.items():
        result.permutation[name] = permutation_importance(
            model, data.design, rows, result.label, data.columns, cfg.window, seed, cfg.importance.repeats
        )


def _final_models(
    result: WalkForwardResult, raw: FloatArray, label: FloatArray, cfg: ForecastConfig, model_root: Path,
    seed: int, clip: float, columns: tuple[str, ...], progress: Callable[[str], None] | None,
) -> str:  # fmt: skip
    """Directory (relative to ``model_root``) holding the models used live."""
    last = result.plan.folds[-1]
    if cfg.final is FinalModels.LAST_FOLD:
        return f"fold_{last.index:02d}"
    if progress is not None:
        progress("refit on every labelled bar")
    fold = refit_fold(result.plan, cfg.folds)
    data, scaler = _training_set(raw, label, fold, cfg, clip, columns)
    directory = model_root / "final"
    scratch = WalkForwardResult(result.plan, result.outputs, result.timestamp, label, result.ret, result.p_up,
                                result.fold, result.label_scale)  # fmt: skip
    _train_fold(data, fold, cfg, seed, directory, scratch)
    atomic_write_json(directory / "scaler.json", scaler.to_dict())
    if cfg.ensemble.enabled:
        m = len(cfg.models)
        known = np.flatnonzero(result.fold >= 0)
        ensemble = StackedEnsemble(tuple(cfg.models), cfg.ensemble.ridge).fit(
            result.ret[known, :m], result.p_up[known, :m], label[known], cfg.ensemble.min_rows
        )
        atomic_write_json(directory / "ensemble.json", ensemble.to_dict())
    return "final"
