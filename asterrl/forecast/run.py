"""One forecast run from typed config sections: load data, compute features, walk forward, write artifacts."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from asterrl.data.config import DataConfig
from asterrl.data.market import MarketData, load_market
from asterrl.features import (
    FeaturePipeline,
    FeaturesConfig,
    MarketInputs,
    NormalizationConfig,
    NormalizationMode,
)
from asterrl.files import atomic_directory, atomic_write
from asterrl.forecast.artifacts import write_artifacts
from asterrl.forecast.config import ForecastConfig
from asterrl.forecast.report import markdown_report, write_tensorboard
from asterrl.forecast.walkforward import WalkForwardResult, run_walk_forward


@dataclass(frozen=True)
class ForecastRun:
    """What a run produced: the artifact directory, the walk-forward result and the wall time (s)."""

    directory: Path
    result: WalkForwardResult
    seconds: float


def raw_pipeline(features: FeaturesConfig) -> tuple[FeaturePipeline, float]:
    """The feature set without fitted normalisation (each fold scales with its own training rows), and the
    configured clip. A ``rolling`` normalisation is causal and kept."""
    pipeline = FeaturePipeline.from_config(features)
    clip = float(pipeline.normalization.clip)
    if pipeline.normalization.mode is NormalizationMode.FITTED:
        none = NormalizationConfig(
            mode=NormalizationMode.NONE, window=pipeline.normalization.window, clip=clip
        )
        pipeline = FeaturePipeline(pipeline.specs, none, pipeline.set_name, pipeline.reference_symbol)
    return pipeline, clip


def default_output_dir(data: DataConfig, cfg: ForecastConfig) -> Path:
    """``$ASTERRL_HOME/forecasts/<symbol>_<interval>_h<h>`` (``~/.asterrl`` when ASTERRL_HOME is unset)."""
    home = Path(os.environ.get("ASTERRL_HOME", Path.home() / ".asterrl")).expanduser()
    return home / "forecasts" / f"{data.symbol}_{data.interval}_h{cfg.horizon}"


def train_forecasts(
    data: DataConfig | MarketData,
    features: FeaturesConfig,
    forecast: ForecastConfig,
    seed: int = 0,
    output_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> ForecastRun:
    """Train the walk-forward forecasters and write the artifact directory.

    :param data: the ``data`` section (loaded with ``load_market``) or already loaded market data.
    :param output_dir: artifact directory; default ``forecast.output_dir`` or ``default_output_dir``.
    """
    forecast.validate()
    started = time.perf_counter()
    market = (
        data if isinstance(data, MarketData) else load_market(data, seed, show_progress=progress is not None)
    )
    pipeline, clip = raw_pipeline(features)
    inputs = MarketInputs.from_frames(market.bars, market.funding, reference_symbol=pipeline.reference_symbol)
    matrix = pipeline.transform(inputs)
    if output_dir is None:
        cfg_dir = Path(forecast.output_dir).expanduser() if forecast.output_dir else None
        if cfg_dir is None and isinstance(data, MarketData):
            raise ValueError(
                "pass output_dir when training on loaded market data without forecast.output_dir"
            )
        output_dir = cfg_dir or default_output_dir(data, forecast)  # type: ignore[arg-type]
    output_dir = output_dir.resolve()
    with atomic_directory(output_dir) as staging:
        result = run_walk_forward(
            matrix.values, matrix.columns, inputs.close, inputs.timestamp, pipeline.feature_warmup, forecast,
            staging / "models", seed, clip, progress,
        )  # fmt: skip
        elapsed = time.perf_counter() - started
        header = {
            "market": f"{market.key.label()} from {market.source}",
            "bars": f"{inputs.n_bars} ({_utc(inputs.timestamp[0])} .. {_utc(inputs.timestamp[-1])})",
            "features": f"{pipeline.set_name} ({len(matrix.columns)} columns, "
            f"warm-up {pipeline.feature_warmup})",
            "models": ", ".join(result.outputs),
            "seed": str(seed),
            "wall time": f"{elapsed:.1f} s",
        }
        atomic_write(
            staging / "report.md",
            markdown_report(result, f"Walk-forward forecasts, h={forecast.horizon}", header),
        )
        write_tensorboard(result, staging / "tensorboard")
        manifest = _manifest(result, forecast, market, seed, elapsed)
        write_artifacts(result, pipeline, staging, manifest)
    return ForecastRun(output_dir, result, time.perf_counter() - started)


def _utc(ms: int) -> str:
    return str(pd.Timestamp(int(ms), unit="ms", tz="UTC").strftime("%Y-%m-%d %H:%M"))


def _manifest(
    result: WalkForwardResult, cfg: ForecastConfig, market: MarketData, seed: int, seconds: float
) -> dict[str, Any]:
    last = result.plan.folds[-1]
    final_scale = (
        float(result.label_scale[last.test_start])
        if result.final_dir != "final"
        else _refit_scale(result, cfg)
    )
    return {
        "horizon": cfg.horizon,
        "window": cfg.window,
        "models": list(cfg.models),
        "outputs": list(result.outputs),
        "final_dir": result.final_dir,
        "final_label_scale": final_scale,
        "first_test_row": result.plan.first_test_row,
        "first_test_timestamp": int(result.timestamp[result.plan.first_test_row]),
        "symbol": market.key.symbol,
        "interval": market.key.interval,
        "data_source": market.source,
        "data_hash": market.data_hash,
        "n_bars": int(result.timestamp.shape[0]),
        "seed": seed,
        "seconds": seconds,
        "config": _jsonable(dataclasses.asdict(cfg)),
    }


def _refit_scale(result: WalkForwardResult, cfg: ForecastConfig) -> float:
    from asterrl.forecast.folds import refit_fold

    fold = refit_fold(result.plan, cfg.folds)
    return float(np.std(result.label[fold.fit_rows]))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "value") and not isinstance(value, int | float | str | bool):
        return value.value
    return value
