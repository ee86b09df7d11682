"""Forecast columns as observation features: scale-free, float32, aligned to the bars by timestamp.

Per model (and ``ensemble``) two columns join the observation:

* ``fc{h}_{model}_ret``: forecast forward log return over the std of the training labels of the fold that
  produced it (a z-score, so the policy sees O(1) numbers whatever the asset's volatility);
* ``fc{h}_{model}_up``: ``2 P(up) − 1`` in [−1, 1].

Out-of-fold values are used for every bar the walk-forward tested (training, validation and test splits
alike, so the policy never sees in-sample forecasts); bars before the first test fold hold NaN, which the
environment treats as warm-up. Live, ``Forecaster.observation`` produces the same columns from the final
models.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from asterrl.errors import ConfigError, DataError
from asterrl.features.matrix import FeatureMatrix


def observation_names(outputs: Sequence[str], horizon: int) -> tuple[str, ...]:
    """Column names, two per output, in output order."""
    return tuple(name for out in outputs for name in (f"fc{horizon}_{out}_ret", f"fc{horizon}_{out}_up"))


def observation_values(
    ret: npt.NDArray[np.float64], p_up: npt.NDArray[np.float64], label_scale: npt.NDArray[np.float64]
) -> npt.NDArray[np.float32]:
    """``(rows, 2 * outputs)`` float32: ``ret / label_scale`` and ``2 p − 1`` interleaved per output."""
    out = np.empty((ret.shape[0], 2 * ret.shape[1]), dtype=np.float32)
    scale = np.asarray(label_scale, dtype=np.float64).reshape(-1, 1)
    out[:, 0::2] = ret / scale
    out[:, 1::2] = 2.0 * p_up - 1.0
    return out


def oof_columns(oof: pd.DataFrame, outputs: Sequence[str]) -> tuple[npt.NDArray[np.float64], ...]:
    """``ret``, ``p_up`` ``(rows, outputs)`` and ``label_scale`` from an out-of-fold table."""
    ret = oof[[f"{o}_ret" for o in outputs]].to_numpy(np.float64)
    p_up = oof[[f"{o}_p_up" for o in outputs]].to_numpy(np.float64)
    return ret, p_up, oof["label_scale"].to_numpy(np.float64)


def forecast_features(
    artifact_dir: str | Path, timestamp: npt.ArrayLike, observe: Sequence[str] = ()
) -> FeatureMatrix:
    """Out-of-fold forecast columns of a trained artifact, aligned to bar open times ``timestamp``.

    :param artifact_dir: directory written by ``asterrl forecast``.
    :param timestamp: bar open times (int64 UTC ms) of the matrix the columns will join.
    :param observe: outputs to keep (model names and/or ``ensemble``); empty keeps all.
    :returns: float32 matrix, NaN for bars the artifact has no out-of-fold forecast for.
    """
    from asterrl.forecast.artifacts import read_manifest, read_oof

    directory = Path(artifact_dir)
    manifest = read_manifest(directory)
    outputs = list(manifest["outputs"])
    chosen = list(observe) or outputs
    unknown = [o for o in chosen if o not in outputs]
    if unknown:
        raise ConfigError(f"forecast.observe: {', '.join(unknown)} not in {directory} ({', '.join(outputs)})")
    oof = read_oof(directory)
    ret, p_up, scale = oof_columns(oof, chosen)
    stamps = np.asarray(timestamp, dtype=np.int64)
    position = np.searchsorted(oof["timestamp"].to_numpy(np.int64), stamps)
    position = np.minimum(position, len(oof) - 1)
    found = oof["timestamp"].to_numpy(np.int64)[position] == stamps
    values = np.full((stamps.shape[0], 2 * len(chosen)), np.nan, dtype=np.float32)
    values[found] = observation_values(ret[position[found]], p_up[position[found]], scale[position[found]])
    return FeatureMatrix(values, observation_names(chosen, int(manifest["horizon"])))


def append_columns(features: FeatureMatrix, extra: FeatureMatrix) -> FeatureMatrix:
    """``features`` with ``extra``'s columns appended (same rows; names must not clash)."""
    if features.values.shape[0] != extra.values.shape[0]:
        raise DataError(
            f"cannot append {extra.values.shape[0]} forecast rows to {features.values.shape[0]} rows"
        )
    clash = sorted(set(features.columns) & set(extra.columns))
    if clash:
        raise ConfigError(f"forecast columns clash with feature columns: {', '.join(clash)}")
    return FeatureMatrix(np.hstack([features.values, extra.values]), (*features.columns, *extra.columns))


def with_forecasts(features: FeatureMatrix, timestamp: npt.ArrayLike, forecast_cfg: object) -> FeatureMatrix:
    """The observation features of a run: ``features`` plus the configured forecast columns, if any.

    ``forecast_cfg`` is the ``forecast`` section (``ForecastConfig``); with ``artifacts`` empty the features
    come back unchanged. This is the one call the training and live code make.
    """
    artifacts = str(getattr(forecast_cfg, "artifacts", "") or "")
    if not artifacts:
        return features
    observe = list(getattr(forecast_cfg, "observe", []) or [])
    return append_columns(features, forecast_features(Path(artifacts).expanduser(), timestamp, observe))
