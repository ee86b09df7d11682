"""The forecast artifact directory and ``Forecaster``, which turns it into forecasts for new bars.

Layout::

    forecast.json        manifest: horizon, window, models, outputs, final models, data identity, config
    fold_plan.json       every fold's fit / validation / test rows (and their bar open times)
    features.json        the raw feature pipeline (FeaturePipeline JSON, no normalisation)
    oof.parquet          timestamp, fold, label, label_scale, <output>_ret, <output>_p_up per bar
    metrics.json         per-fold and pooled scores of every model and baseline, fit times, importances
    report.md            the same as tables
    models/fold_KK/      scaler.json, ensemble.json, <model>.json + <model>.pt | <model>_{ret,up}.json
    models/final/        refit models (``final=refit`` only)
    tensorboard/         scalars

The directory is written under a temporary name and renamed when complete, so a reader never sees half of
it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from asterrl.errors import ConfigError, DataError
from asterrl.features import FeaturePipeline, MarketInputs
from asterrl.features.matrix import FeatureMatrix
from asterrl.files import atomic_path, atomic_write_json
from asterrl.forecast.ensemble import StackedEnsemble
from asterrl.forecast.models import ColumnScaler, ForecastModel, load_model
from asterrl.forecast.models.base import read_json
from asterrl.forecast.observation import observation_names, observation_values
from asterrl.forecast.walkforward import ENSEMBLE, WalkForwardResult

FORMAT_VERSION = 1
MANIFEST = "forecast.json"


def oof_frame(result: WalkForwardResult) -> pd.DataFrame:
    """The out-of-fold forecasts as a table, one row per bar."""
    frame = pd.DataFrame({
        "timestamp": result.timestamp, "fold": result.fold, "label": result.label,
        "label_scale": result.label_scale,
    })  # fmt: skip
    for j, name in enumerate(result.outputs):
        frame[f"{name}_ret"] = result.ret[:, j].astype(np.float32)
        frame[f"{name}_p_up"] = result.p_up[:, j].astype(np.float32)
    return frame


def write_artifacts(
    result: WalkForwardResult, pipeline: FeaturePipeline, directory: Path, manifest: dict[str, Any]
) -> Path:
    """Complete an artifact ``directory`` that already holds ``models/`` (a staging folder of
    ``asterrl.files.atomic_directory``, swapped in whole by the caller); returns ``directory``."""
    atomic_write_json(directory / "fold_plan.json", result.plan.to_dict())
    pipeline.save(directory / "features.json")
    with atomic_path(directory / "oof.parquet") as temporary:
        oof_frame(result).to_parquet(temporary, index=False)
    metrics = {
        "fold_metrics": result.fold_metrics, "pooled_metrics": result.pooled_metrics,
        "train_seconds": result.train_seconds, "train_facts": result.train_facts,
        "gain_importance": result.gain, "permutation_importance": result.permutation,
    }  # fmt: skip
    atomic_write_json(directory / "metrics.json", _finite(metrics))
    atomic_write_json(directory / MANIFEST, {"format_version": FORMAT_VERSION, **manifest})
    return directory


def _finite(value: Any) -> Any:
    """JSON-safe copy: NaN and inf become ``None``."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def read_manifest(directory: Path) -> dict[str, Any]:
    """The manifest of an artifact directory (``ConfigError`` when it is not one)."""
    path = directory / MANIFEST
    if not path.exists():
        raise ConfigError(
            f"{directory}: not a forecast artifact directory (no {MANIFEST}); run `asterrl forecast`"
        )
    manifest = read_json(path)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ConfigError(f"{path}: format {manifest.get('format_version')!r} is not {FORMAT_VERSION}")
    return manifest


def read_oof(directory: Path) -> pd.DataFrame:
    """The out-of-fold forecast table of an artifact directory."""
    path = directory / "oof.parquet"
    if not path.exists():
        raise DataError(f"{path}: missing out-of-fold forecasts")
    return pd.read_parquet(path)


class Forecaster:
    """The final models of an artifact: forecasts for the newest bars from recent history (live use).

    The feature pipeline, scaler, base models and ensemble are those saved by the walk-forward, so a bar
    forecast here with the same history is the number the artifact's last fold produced for it.
    """

    def __init__(
        self, directory: Path, manifest: dict[str, Any], pipeline: FeaturePipeline, scaler: ColumnScaler,
        models: dict[str, ForecastModel], ensemble: StackedEnsemble | None,
    ) -> None:  # fmt: skip
        self.directory = directory
        self.manifest = manifest
        self.pipeline = pipeline
        self.scaler = scaler
        self.models = models
        self.ensemble = ensemble
        self.horizon = int(manifest["horizon"])
        self.window = int(manifest["window"])
        self.outputs: tuple[str, ...] = tuple(manifest["outputs"])
        self.label_scale = float(manifest["final_label_scale"])

    @classmethod
    def load(cls, directory: str | Path, device: str = "auto") -> Forecaster:
        """Load the final models of the artifact at ``directory``."""
        root = Path(directory).expanduser()
        manifest = read_manifest(root)
        pipeline = FeaturePipeline.load(root / "features.json")
        final = root / "models" / manifest["final_dir"]
        scaler = ColumnScaler.from_dict(read_json(final / "scaler.json"))
        models = {name: load_model(final, name, device) for name in manifest["models"]}
        ensemble = None
        if ENSEMBLE in manifest["outputs"]:
            ensemble = StackedEnsemble.from_dict(read_json(final / "ensemble.json"))
        return cls(root, manifest, pipeline, scaler, models, ensemble)

    @property
    def min_history(self) -> int:
        """Bars of history needed for one forecast (feature warm-up plus the window). Features seeded by
        an average (EMA, Wilder) match the training values exactly only with the full history."""
        return self.pipeline.warmup + self.window

    def predict(self, inputs: MarketInputs, last: int = 1) -> tuple[npt.NDArray[np.float64], ...]:
        """Forecasts for the ``last`` newest bars of ``inputs``: ``ret``, ``p_up`` ``(last, outputs)``."""
        if inputs.n_bars < self.min_history:
            raise DataError(
                f"{inputs.n_bars} bars of history; the forecaster needs at least {self.min_history}"
            )
        raw = np.asarray(self.pipeline.transform(inputs).values, dtype=np.float64)
        design = self.scaler.transform(raw)
        rows = np.arange(max(inputs.n_bars - last, self.min_history - 1), inputs.n_bars, dtype=np.int64)
        if not np.isfinite(raw[rows.min() - self.window + 1 :]).all():
            raise DataError("features of the newest bars hold NaN: give more history")
        ret = np.empty((rows.size, len(self.outputs)))
        p_up = np.empty_like(ret)
        for j, name in enumerate(self.manifest["models"]):
            prediction = self.models[name].predict(design, rows)
            ret[:, j], p_up[:, j] = prediction.ret, prediction.p_up
        if self.ensemble is not None:
            m = len(self.models)
            ret[:, m], p_up[:, m] = self.ensemble.predict(ret[:, :m], p_up[:, :m])
        return ret, p_up

    def predict_frame(
        self, bars: pd.DataFrame, funding: pd.DataFrame | None = None, last: int = 1
    ) -> pd.DataFrame:
        """``timestamp`` plus ``<output>_ret`` and ``<output>_p_up`` for the ``last`` newest bars."""
        inputs = MarketInputs.from_frames(bars, funding, reference_symbol=self.pipeline.reference_symbol)
        ret, p_up = self.predict(inputs, last)
        frame = pd.DataFrame({"timestamp": inputs.timestamp[-ret.shape[0] :]})
        for j, name in enumerate(self.outputs):
            frame[f"{name}_ret"] = ret[:, j]
            frame[f"{name}_p_up"] = p_up[:, j]
        return frame

    def observation(self, inputs: MarketInputs, last: int = 1, observe: Sequence[str] = ()) -> FeatureMatrix:
        """The observation columns (see ``asterrl.forecast.observation``) of the outputs in ``observe`` (all
        when empty) for the ``last`` newest bars: the live counterpart of ``forecast_features``."""
        ret, p_up = self.predict(inputs, last)
        chosen = list(observe) or list(self.outputs)
        unknown = [o for o in chosen if o not in self.outputs]
        if unknown:
            raise ConfigError(f"forecast.observe: {', '.join(unknown)} not in {self.directory}")
        keep = [self.outputs.index(o) for o in chosen]
        ret, p_up = ret[:, keep], p_up[:, keep]
        scale = np.full(ret.shape[0], self.label_scale)
        return FeatureMatrix(observation_values(ret, p_up, scale), observation_names(chosen, self.horizon))
