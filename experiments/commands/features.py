"""``asterrl features {list,compute}``: the indicator catalogue, and feature matrices written to Parquet.

``asterrl features list`` prints one feature per line with its parameters and outputs.
``asterrl features compute INPUT -o OUTPUT.parquet [--set NAME] [--funding FILE] [--reference FILE]``
computes the set ``conf/features/NAME.yaml`` (default: the configured ``features`` group) on INPUT, a bar
file (CSV, CSV.gz or Parquet) or a stored symbol such as ``BTCUSDT`` (interval and market from ``data.*``).
The output holds ``timestamp`` plus one float32 column per feature. With fitted normalisation the statistics
are fitted on the whole input and the pipeline is saved beside the output as ``OUTPUT.features.json``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from asterrl.data.io import read_table
from asterrl.data.schema import DataKind, SeriesKey
from asterrl.data.store import MarketStore
from asterrl.errors import ConfigError, DataError
from asterrl.features import FeaturePipeline, FeaturesConfig, MarketInputs, NormalizationMode, iter_features
from experiments.config import asterrl_home, load_config, output_outside_repository
from experiments.hydra_cli import OVERRIDES_HELP, CommandParser, add_hydra_options, parse, plain_text, show


def _parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="asterrl features",
        allow_abbrev=False,
        description=plain_text(__doc__ or ""),
        formatter_class=argparse.RawTextHelpFormatter,
    )
    sub = parser.add_subparsers(
        dest="action", required=True, metavar="{list,compute}", parser_class=CommandParser
    )
    add_hydra_options(sub.add_parser("list", help="list every feature with its parameters and outputs"))
    comp = sub.add_parser(
        "compute",
        help="compute a feature set on a bar file or a stored symbol",
        epilog=OVERRIDES_HELP,
        formatter_class=argparse.RawTextHelpFormatter,
    )
    add_hydra_options(comp)
    comp.add_argument("input", help="bar file (.csv, .csv.gz, .parquet) or a stored symbol such as BTCUSDT")
    comp.add_argument(
        "-o",
        "--output",
        type=Path,
        help="Parquet file to write, outside the repository folder "
        "(default: $ASTERRL_HOME/features/<input>_<set>.parquet)",
    )
    comp.add_argument("--set", dest="set_name", help="feature set: conf/features/<NAME>.yaml")
    comp.add_argument("--funding", type=Path, help="funding file (timestamp,funding_rate) for a file INPUT")
    comp.add_argument("--reference", type=Path, help="reference symbol's bar file for cross-asset features")
    return parser


def run(argv: Sequence[str]) -> int:
    """Entry point used by ``experiments.cli`` with the tokens after ``features``."""
    invocation = parse(_parser(), argv)
    args, overrides = invocation.args, invocation.overrides
    if args.cfg or args.info:
        return show(args, overrides)
    if args.multirun:
        raise ConfigError(
            "asterrl features writes one file per call: -m does not apply (run it once per set)"
        )
    if args.action == "list":
        for definition in iter_features():
            print(definition.describe())
        return 0
    name = f"{Path(args.input).name.split('.')[0]}_{args.set_name or 'features'}.parquet"
    args.output = output_outside_repository(args.output, asterrl_home() / "features" / name, "-o")
    if args.output.suffix != ".parquet":
        raise ConfigError(f"{args.output}: the output must be a .parquet file")
    cfg = load_config([*overrides, f"features={args.set_name}"] if args.set_name else overrides)
    features_cfg = getattr(cfg, "features", None)
    if not isinstance(features_cfg, FeaturesConfig):
        raise ConfigError("the configuration has no features section (conf/config.yaml must list `features`)")
    pipeline = FeaturePipeline.from_config(features_cfg)
    inputs = _inputs(args, cfg, features_cfg)
    if pipeline.normalization.mode is NormalizationMode.FITTED:
        pipeline.fit(inputs)
    matrix = pipeline.transform(inputs)
    _write_parquet(matrix.to_frame(), args.output)
    print(
        f"wrote {args.output}: {inputs.n_bars} rows x {len(matrix.columns)} features "
        f"(set {pipeline.set_name}, warm-up {matrix.warmup} bars)"
    )
    if pipeline.normalization.mode is NormalizationMode.FITTED:
        saved = pipeline.save(args.output.with_suffix(".features.json"))
        print(f"normalisation fitted on all {inputs.n_bars} input rows; pipeline saved to {saved}")
    return 0


def _inputs(args: argparse.Namespace, cfg: object, features_cfg: FeaturesConfig) -> MarketInputs:
    data_cfg = getattr(cfg, "data")  # noqa: B009  (typed by experiments.schema)
    path = Path(args.input)
    reference_symbol = features_cfg.reference_symbol
    if path.suffix in {".csv", ".gz", ".parquet"} or path.exists():
        bars, _ = read_table(path, DataKind.OHLCV)
        funding = read_table(args.funding, DataKind.FUNDING)[0] if args.funding else None
        reference = read_table(args.reference, DataKind.OHLCV)[0] if args.reference else None
        return MarketInputs.from_frames(_sorted(bars), funding, reference, reference_symbol=reference_symbol)
    from asterrl.data.importer import default_store_root

    store = MarketStore(data_cfg.store_dir or default_store_root())
    key = SeriesKey(DataKind.OHLCV, data_cfg.market, args.input, data_cfg.interval)
    bars = store.read(key)
    funding_key = SeriesKey(DataKind.FUNDING, data_cfg.market, args.input, None)
    funding = store.read(funding_key) if data_cfg.market.value == "perp" and store.has(funding_key) else None
    reference = None
    if args.reference:
        reference = read_table(args.reference, DataKind.OHLCV)[0]
    elif reference_symbol:
        ref_key = SeriesKey(DataKind.OHLCV, data_cfg.market, reference_symbol, data_cfg.interval)
        reference = store.read(ref_key) if store.has(ref_key) else None
    return MarketInputs.from_frames(
        bars, funding, reference, interval_ms=key.interval_ms, reference_symbol=reference_symbol
    )


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    if frame["timestamp"].duplicated().any():
        raise DataError("input bars hold duplicate timestamps; run `asterrl data validate` on the file")
    return frame.sort_values("timestamp", kind="stable").reset_index(drop=True)


def _write_parquet(frame: pd.DataFrame, target: Path) -> None:
    """Write atomically: a reader never sees a half-written file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.", delete=False) as handle:
        temporary = Path(handle.name)
    try:
        frame.to_parquet(temporary, index=False)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
