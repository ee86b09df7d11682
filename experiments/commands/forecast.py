"""``asterrl forecast [-o DIR] [--quiet] [key=value ...]``: train walk-forward forecasters, write the results.

Composes ``conf/config.yaml`` (``data``, ``features``, ``forecast`` groups) with the overrides, loads the
market, computes the feature set, trains every configured model over purged walk-forward folds and writes
the artifact directory (fold plan, per-fold models, feature pipeline, out-of-fold forecasts as Parquet,
``report.md``, ``metrics.json``, TensorBoard scalars). Examples::

    asterrl forecast data=shared_btcusdt_1h
    asterrl forecast data=synthetic forecast=tiny forecast.horizon=8 -o /tmp/fc
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from asterrl.errors import ConfigError
from asterrl.features import FeaturesConfig
from asterrl.forecast import ForecastConfig, train_forecasts
from experiments.hydra_cli import Summary, command_parser, parse, plain_text, run_command
from experiments.schema import AsterRLConfig
from hydra_plugins.asterrl_ray_tune.results import Cell


def _parser() -> argparse.ArgumentParser:
    parser = command_parser("asterrl forecast", plain_text(__doc__ or ""))
    parser.add_argument("-o", "--output", type=Path, help="artifact directory (default: forecast.output_dir)")
    parser.add_argument("--quiet", action="store_true", help="print only the final summary")
    return parser


def run(argv: Sequence[str]) -> int:
    """Entry point used by ``experiments.cli`` with the tokens after ``forecast``."""
    invocation = parse(_parser(), argv)
    args = invocation.args

    def job(cfg: AsterRLConfig) -> Summary:
        return _forecast(cfg, args)

    return run_command(invocation, job)


def _forecast(cfg: AsterRLConfig, args: argparse.Namespace) -> Summary:
    forecast_cfg = cfg.forecast.validate()
    features_cfg = getattr(cfg, "features", None)
    if not isinstance(features_cfg, FeaturesConfig) or not features_cfg.features:
        raise ConfigError("the configuration has no feature set (conf/config.yaml must list `features`)")

    def progress(message: str) -> None:
        print(f"asterrl forecast: {message}", file=sys.stderr, flush=True)

    outcome = train_forecasts(
        cfg.data, features_cfg, forecast_cfg, int(cfg.seed), args.output, None if args.quiet else progress
    )
    pooled = {item["model"]: item for item in outcome.result.pooled_metrics}
    print(f"artifacts:   {outcome.directory}")
    print(f"report:      {outcome.directory / 'report.md'}")
    print(f"tensorboard: tensorboard --logdir {outcome.directory / 'tensorboard'}")
    print(f"wall time:   {outcome.seconds:.1f} s")
    summary: dict[str, Cell] = {"artifacts": str(outcome.directory)}
    print("pooled out-of-fold scores (dir. acc. / IC / RMSE / log loss):")
    for name, item in pooled.items():
        print(
            f"  {name:<14}{item['directional_accuracy']:.4f}  {item['information_coefficient']:+.4f}  "
            f"{item['rmse']:.6f}  {item['log_loss']:.4f}"
        )
        summary[f"{name}_ic"] = float(item["information_coefficient"])
    return summary


def _load(overrides: list[str]) -> tuple[AsterRLConfig, ForecastConfig]:
    """The root config and its validated ``forecast`` section (benchmarks/forecast.py uses it)."""
    from experiments.config import load_config

    cfg = load_config(overrides)
    return cfg, cfg.forecast.validate()
