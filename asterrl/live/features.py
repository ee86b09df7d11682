"""The observation's feature columns rebuilt from a manifest, over the bars the bridge holds.

The same code the training run used: ``asterrl.observation.builtin_features``, or the feature pipeline
saved in the manifest with its fitted statistics (``FeaturePipeline.from_dict``), plus the forecast
columns of the forecast models copied into the artifact (``Forecaster.observation``, the live counterpart
of the out-of-fold columns seen in training).

Features seeded by an average (EMA, Wilder) equal the training values exactly only when computed from the
same first bar; ``history_bars`` is the least history that makes every column defined, and the bridge keeps
``deploy.history_bars`` (more) so that the seeding has died out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from asterrl.errors import ArtifactError, DataError
from asterrl.features.inputs import MarketInputs
from asterrl.features.matrix import FeatureMatrix
from asterrl.features.pipeline import FeaturePipeline
from asterrl.live.manifest import Manifest
from asterrl.observation import builtin_features

BUILTIN = "builtin"
PIPELINE = "pipeline"


def builtin_columns() -> tuple[str, ...]:
    probe = pd.DataFrame(
        {"open": [1.0] * 3, "high": [1.0] * 3, "low": [1.0] * 3, "close": [1.0] * 3, "volume": [1.0] * 3}
    )
    return builtin_features(probe).columns


def _pipeline(manifest: Manifest) -> FeaturePipeline | None:
    section = manifest.features
    kind = section.get("kind")
    if kind == BUILTIN:
        return None
    if kind != PIPELINE or not isinstance(section.get("pipeline"), dict):
        raise ArtifactError(f"manifest features.kind={kind!r}; expected builtin or pipeline")
    return FeaturePipeline.from_dict(section["pipeline"])


def _forecast_columns(manifest: Manifest) -> tuple[str, ...]:
    from asterrl.forecast.observation import observation_names

    forecast = manifest.forecast
    if forecast is None:
        return ()
    return observation_names(list(forecast["observe"]), int(forecast["horizon"]))


def feature_columns(manifest: Manifest, directory: Path) -> tuple[str, ...]:
    """Columns the manifest's feature section builds, forecast columns last (as in training)."""
    pipeline = _pipeline(manifest)
    base = builtin_columns() if pipeline is None else pipeline.columns
    return tuple(base) + _forecast_columns(manifest)


class ObservationFeatures:
    """Computes the observation's feature matrix over a history of bars, as the training run did.

    :param manifest: the artifact's manifest.
    :param directory: the artifact directory (forecast models live under it).
    """

    def __init__(self, manifest: Manifest, directory: Path) -> None:
        self.manifest = manifest
        self.pipeline = _pipeline(manifest)
        self.columns = manifest.layout.feature_columns
        self.window = manifest.layout.window
        self.forecaster = None
        self.observe: list[str] = []
        forecast = manifest.forecast
        if forecast is not None:
            from asterrl.forecast.artifacts import Forecaster

            self.forecaster = Forecaster.load(directory / str(forecast["dir"]), device="cpu")
            self.observe = list(forecast["observe"])

    @property
    def history_bars(self) -> int:
        """Least number of bars for one observation: every column defined over the whole window."""
        warmup = 1 if self.pipeline is None else self.pipeline.warmup
        need = warmup + self.window
        if self.forecaster is not None:
            need = max(need, self.forecaster.min_history + self.window - 1)
        return need

    def compute(self, bars: pd.DataFrame, funding: pd.DataFrame | None) -> FeatureMatrix:
        """Feature rows aligned with ``bars`` (row ``t`` uses data up to bar ``t``'s close)."""
        if self.pipeline is None:
            base = builtin_features(bars)
        else:
            inputs = MarketInputs.from_frames(bars, funding, reference_symbol=self.pipeline.reference_symbol)
            base = self.pipeline.transform(inputs)
        if self.forecaster is None:
            return base
        inputs = MarketInputs.from_frames(
            bars, funding, reference_symbol=self.forecaster.pipeline.reference_symbol
        )
        last = min(self.window, len(bars) - self.forecaster.min_history + 1)
        if last < self.window:
            raise DataError(f"{len(bars)} bars are too few for {self.window} forecast rows")
        newest = self.forecaster.observation(inputs, last=last, observe=self.observe)
        values = np.full((len(bars), newest.values.shape[1]), np.nan, dtype=np.float32)
        values[-last:] = newest.values
        return FeatureMatrix(np.concatenate([base.values, values], axis=1), base.columns + newest.columns)
