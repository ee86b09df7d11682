"""``asterrl features {list,compute,check-lookahead}``: the indicator catalogue, feature matrices written to
Parquet, and the look-ahead analysis of a feature set or a rule agent.

``asterrl features list`` prints one feature per line with its parameters and outputs.

``asterrl features compute INPUT [-o OUTPUT.parquet] [--set NAME|FILE.yaml] [--funding FILE]
[--reference FILE] [--fit-end WHEN | --fit-all-rows-lookahead]`` computes a feature set
(``conf/features/NAME.yaml``, or a YAML file of your own; default: the configured ``features`` group) on
INPUT, a bar file (CSV, CSV.gz or Parquet)
or a stored symbol such as ``BTCUSDT`` (interval and market from ``data.*``). The output holds
``timestamp`` plus one float32 column per feature; the pipeline (spec and statistics) is saved beside it as
``OUTPUT.features.json``. OUTPUT defaults to ``$ASTERRL_HOME/features/<input>_<set>.parquet`` and never
lies inside the repository folder. The output is causal by default: no value at a bar depends on a later
bar. A set asking for fitted normalisation gets the rolling z-score instead (its window and clip), unless
``--fit-end WHEN`` (a UTC date or time, or ms) fits the statistics on the bars closed by WHEN only (values
before WHEN then use statistics of that span), or ``--fit-all-rows-lookahead`` fits them on every row, so
that every value looks ahead.

``asterrl features check-lookahead INPUT [--set NAME|FILE.yaml | --agent OPTION] [--cuts N] [--seed S]``
computes the set (with the same normalisation options) or the rule agent's targets and signals
(``conf/agent/OPTION.yaml``) on INPUT, then again with the future removed and perturbed after N random cut
bars, and names every column or signal whose value at or before a cut changed. Exit 1 if any did.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from asterrl.data.io import read_table
from asterrl.data.schema import DataKind, SeriesKey
from asterrl.data.store import MarketStore
from asterrl.errors import ConfigError, DataError
from asterrl.features import (
    FeatureMatrix,
    FeaturePipeline,
    FeaturesConfig,
    MarketInputs,
    NormalizationConfig,
    NormalizationMode,
    iter_features,
)
from asterrl.features.lookahead import LookaheadReport, MarketFrames, SeriesFunction, check_lookahead
from asterrl.files import atomic_path
from experiments.config import asterrl_home, describe_config_error, load_config, output_outside_repository
from experiments.hydra_cli import OVERRIDES_HELP, CommandParser, add_hydra_options, parse, plain_text, show
from experiments.schema import AsterRLConfig


def _market_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="bar file (.csv, .csv.gz, .parquet) or a stored symbol such as BTCUSDT")
    parser.add_argument(
        "--set", dest="set_name", help="feature set: conf/features/<NAME>.yaml or a YAML file"
    )
    parser.add_argument("--funding", type=Path, help="funding file (timestamp,funding_rate) for a file INPUT")
    parser.add_argument("--reference", type=Path, help="reference symbol's bar file for cross-asset features")
    fit = parser.add_mutually_exclusive_group()
    fit.add_argument("--fit-end", help="fit normalisation on the bars closed by this UTC time (or ms) only")
    fit.add_argument(
        "--fit-all-rows-lookahead",
        action="store_true",
        help="fit normalisation on every row: every value then looks ahead",
    )


def _parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="asterrl features",
        allow_abbrev=False,
        description=plain_text(__doc__ or ""),
        formatter_class=argparse.RawTextHelpFormatter,
    )
    sub = parser.add_subparsers(
        dest="action",
        required=True,
        metavar="{list,compute,check-lookahead}",
        parser_class=CommandParser,
    )
    add_hydra_options(sub.add_parser("list", help="list every feature with its parameters and outputs"))
    comp = sub.add_parser(
        "compute",
        help="compute a feature set on a bar file or a stored symbol",
        epilog=OVERRIDES_HELP,
        formatter_class=argparse.RawTextHelpFormatter,
    )
    add_hydra_options(comp)
    _market_arguments(comp)
    comp.add_argument(
        "-o",
        "--output",
        type=Path,
        help="Parquet file to write, outside the repository folder "
        "(default: $ASTERRL_HOME/features/<input>_<set>.parquet)",
    )
    check = sub.add_parser(
        "check-lookahead",
        help="find columns or signals that look ahead",
        epilog=OVERRIDES_HELP,
        formatter_class=argparse.RawTextHelpFormatter,
    )
    add_hydra_options(check)
    _market_arguments(check)
    check.add_argument("--agent", help="check this rule agent (conf/agent/<OPTION>.yaml) instead of a set")
    check.add_argument("--cuts", type=int, default=8, help="random cut bars (default 8)")
    check.add_argument("--seed", type=int, default=0, help="seed of the cuts and perturbations")
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
    if args.action == "compute":
        return _compute(args, overrides)
    return _check(args, overrides)


@dataclass(frozen=True)
class Scaling:
    """How the columns are scaled: the pipeline to run, and the span its statistics are fitted on.

    :param fit_end_ms: statistics from bars closed by this time (ms UTC); ``None`` with ``fit_all`` false
        means the pipeline needs no fitting (rolling or no normalisation).
    :param fit_all: statistics from every row (looks ahead).
    """

    pipeline: FeaturePipeline
    fit_end_ms: int | None
    fit_all: bool
    note: str

    def inputs(self, market: MarketFrames) -> MarketInputs:
        """The pipeline's inputs from the market's frames."""
        return MarketInputs.from_frames(
            market.bars, market.funding, market.reference, reference_symbol=self.pipeline.reference_symbol
        )

    def fitted(self, inputs: MarketInputs) -> FeaturePipeline:
        """The pipeline ready to transform ``inputs``: a copy fitted on its span when statistics are asked."""
        p = self.pipeline
        if not (self.fit_all or self.fit_end_ms is not None):
            return p
        return p.with_normalization(p.normalization).fit(inputs, self.fit_stop(inputs))

    def features(self, market: MarketFrames) -> FeatureMatrix:
        """The feature matrix of ``market``, fitted (when asked) on its own rows."""
        inputs = self.inputs(market)
        return self.fitted(inputs).transform(inputs)

    def fit_stop(self, inputs: MarketInputs) -> int:
        """Rows the statistics are fitted on: all, or those closed by ``fit_end_ms``."""
        if self.fit_end_ms is None:
            return inputs.n_bars
        return int(np.count_nonzero(inputs.close_time <= self.fit_end_ms))


def scaling(pipeline: FeaturePipeline, fit_end: str | None, fit_all: bool) -> Scaling:
    """The causal default: fitted normalisation becomes the rolling z-score unless a span is named."""
    norm = pipeline.normalization
    if fit_end is not None or fit_all:
        fitted = pipeline.with_normalization(
            NormalizationConfig(NormalizationMode.FITTED, norm.window, norm.clip)
        )
        if fit_all:
            return Scaling(fitted, None, True, "normalisation fitted on every row: every value looks ahead")
        assert fit_end is not None
        end = _utc_ms(fit_end)
        when = pd.Timestamp(end, unit="ms", tz="UTC").strftime("%Y-%m-%d %H:%M")
        return Scaling(fitted, end, False, f"normalisation fitted on the bars closed by {when} UTC")
    if norm.mode is NormalizationMode.FITTED:
        rolling = pipeline.with_normalization(
            NormalizationConfig(NormalizationMode.ROLLING, norm.window, norm.clip)
        )
        note = (
            f"causal rolling z-score over {norm.window} bars (the set asks for fitted statistics: name their "
            "span with --fit-end, or use --fit-all-rows-lookahead)"
        )
        return Scaling(rolling, None, False, note)
    return Scaling(pipeline, None, False, f"normalisation {norm.mode.value} (causal)")


def _compute(args: argparse.Namespace, overrides: list[str]) -> int:
    name = f"{Path(args.input).name.split('.')[0]}_{Path(args.set_name or 'features').stem}.parquet"
    args.output = output_outside_repository(args.output, asterrl_home() / "features" / name, "-o")
    if args.output.suffix != ".parquet":
        raise ConfigError(f"{args.output}: the output must be a .parquet file")
    cfg, features_cfg = _feature_set(args.set_name, overrides)
    plan = scaling(FeaturePipeline.from_config(features_cfg), args.fit_end, args.fit_all_rows_lookahead)
    market = _market(args, cfg, features_cfg.reference_symbol)
    inputs = plan.inputs(market)
    pipeline = plan.fitted(inputs)
    matrix = pipeline.transform(inputs)
    with atomic_path(args.output) as temporary:
        matrix.to_frame().to_parquet(temporary, index=False)
    saved = pipeline.save(args.output.with_suffix(".features.json"))
    print(
        f"wrote {args.output}: {matrix.n_rows} rows x {len(matrix.columns)} features "
        f"(set {pipeline.set_name}, warm-up {matrix.warmup} bars); {plan.note}; pipeline saved to {saved}"
    )
    return 0


def _check(args: argparse.Namespace, overrides: list[str]) -> int:
    if args.cuts < 1:
        raise ConfigError(f"--cuts must be >= 1, got {args.cuts}")
    if args.agent:
        if args.set_name:
            raise ConfigError(
                "check-lookahead checks a feature set (--set) or a rule agent (--agent), not both"
            )
        cfg = load_config([*overrides, f"agent={args.agent}"])
        market = _market(args, cfg, None)
        compute, first_cut, what, note = _agent_check(cfg, market), 0, f"rule agent {args.agent}", ""
    else:
        cfg, features_cfg = _feature_set(args.set_name, overrides)
        plan = scaling(FeaturePipeline.from_config(features_cfg), args.fit_end, args.fit_all_rows_lookahead)
        market = _market(args, cfg, features_cfg.reference_symbol)

        def compute(frames: MarketFrames) -> Mapping[str, np.ndarray]:
            matrix = plan.features(frames)
            return {name: matrix.values[:, j] for j, name in enumerate(matrix.columns)}

        first_cut, note = plan.pipeline.warmup, f"scaling: {plan.note}"
        if plan.fit_end_ms is not None:  # values before the last fitted bar use the span's statistics
            first_cut = max(first_cut, plan.fit_stop(plan.inputs(market)) - 1)
        what = f"feature set {plan.pipeline.set_name}"
        if market.n_bars < first_cut + 2:
            raise DataError(
                f"{args.input}: {market.n_bars} bars, too few to check after the first {first_cut} bars "
                "(the set's warm-up or fitting span)"
            )
    report = check_lookahead(compute, market, args.cuts, args.seed, first_cut)
    print(_summary(report, what, args.input, note))
    return 0 if report.clean else 1


def _summary(report: LookaheadReport, what: str, source: str, note: str) -> str:
    kind = "signals" if what.startswith("rule agent") else "columns"
    lines = [
        f"look-ahead check of {what} on {source}: {len(report.names)} {kind}, cut bars "
        f"{', '.join(map(str, report.cuts))}, future removed and perturbed after each",
        *([note] if note else []),
    ]
    lines += [f"LOOKS AHEAD {leak.describe()}" for leak in report.leaks]
    if report.clean:
        lines.append(f"no look-ahead: no value at or before a cut bar changed ({len(report.names)} {kind})")
    else:
        lines.append(
            f"{len(report.leaking)} of {len(report.names)} {kind} look ahead: {', '.join(report.leaking)}"
        )
    return "\n".join(lines)


def _agent_check(cfg: AsterRLConfig, market: MarketFrames) -> SeriesFunction:
    from agents.registry import RuleConfig, build_rule_agent
    from agents.rules import PriceSeries
    from envs.core import build_core
    from experiments.training.environment import action_mapping

    agent_cfg = cfg.agent_config()
    if not isinstance(agent_cfg, RuleConfig):
        raise ConfigError(f"agent {agent_cfg.name} is not a rule agent: check-lookahead checks rule agents")
    from asterrl.data.instruments import instrument_of

    core = build_core(
        config=cfg.env, risk=cfg.risk, data=market.bars, funding=market.funding,
        instrument=instrument_of(cfg.data), action_type="continuous", episode_length=0, random_start=False,
    )  # fmt: skip
    agent = build_rule_agent(agent_cfg, action_mapping(core))

    def compute(frames: MarketFrames) -> Mapping[str, np.ndarray]:
        return agent.decision_series(PriceSeries.from_bars(frames.bars))

    return compute


def _feature_set(set_name: str | None, overrides: list[str]) -> tuple[AsterRLConfig, FeaturesConfig]:
    """The config and its feature set: ``--set NAME`` picks ``conf/features/NAME.yaml``; a path to a YAML
    file is a set of your own, checked against ``FeaturesConfig``."""
    from_file = set_name is not None and (set_name.endswith((".yaml", ".yml")) or Path(set_name).is_file())
    cfg = load_config([*overrides, f"features={set_name}"] if set_name and not from_file else overrides)
    if from_file:
        assert set_name is not None
        path = Path(set_name).expanduser()
        if not path.is_file():
            raise ConfigError(f"--set {set_name}: no such file")
        try:
            merged = OmegaConf.merge(OmegaConf.structured(FeaturesConfig), OmegaConf.load(path))
            features_cfg = OmegaConf.to_object(merged)
        except OmegaConfBaseException as exc:
            raise ConfigError(f"{path}: {describe_config_error(exc)}") from None
        if isinstance(features_cfg, FeaturesConfig):
            # A relative .py module is read beside the set file, wherever the command runs from.
            features_cfg.modules = [
                str((path.parent / m).resolve()) if m.endswith(".py") and not Path(m).is_absolute() else m
                for m in features_cfg.modules
            ]
    else:
        features_cfg = getattr(cfg, "features", None)
    if not isinstance(features_cfg, FeaturesConfig):
        raise ConfigError("the configuration has no features section (conf/config.yaml must list `features`)")
    return cfg, features_cfg


def _market(args: argparse.Namespace, cfg: AsterRLConfig, reference_symbol: str | None) -> MarketFrames:
    """Bars, funding and reference bars of INPUT: a file (with ``--funding``/``--reference``) or a stored
    symbol (its funding and the reference symbol from the store)."""
    path = Path(args.input)
    reference = read_table(args.reference, DataKind.OHLCV)[0] if args.reference else None
    if path.suffix in {".csv", ".gz", ".parquet"} or path.exists():
        bars, _ = read_table(path, DataKind.OHLCV)
        funding = read_table(args.funding, DataKind.FUNDING)[0] if args.funding else None
        return MarketFrames(_sorted(bars), funding, reference)
    from asterrl.data.importer import default_store_root

    data_cfg = cfg.data
    store = MarketStore(data_cfg.store_dir or default_store_root())
    bars = store.read(SeriesKey(DataKind.OHLCV, data_cfg.market, args.input, data_cfg.interval))
    funding_key = SeriesKey(DataKind.FUNDING, data_cfg.market, args.input, None)
    funding = store.read(funding_key) if data_cfg.market.value == "perp" and store.has(funding_key) else None
    if reference is None and reference_symbol:
        ref_key = SeriesKey(DataKind.OHLCV, data_cfg.market, reference_symbol, data_cfg.interval)
        reference = store.read(ref_key) if store.has(ref_key) else None
    return MarketFrames(bars, funding, reference)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    if frame["timestamp"].duplicated().any():
        raise DataError("input bars hold duplicate timestamps; run `asterrl data validate` on the file")
    return frame.sort_values("timestamp", kind="stable").reset_index(drop=True)


def _utc_ms(when: str) -> int:
    """``--fit-end``: milliseconds since the epoch, or a date/time read as UTC."""
    text = when.strip()
    if text.isdigit():
        return int(text)
    try:
        stamp = pd.Timestamp(text)
    except ValueError:
        raise ConfigError(f"--fit-end {when!r}: expected a UTC date such as 2023-01-01 or ms") from None
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.value // 1_000_000)
