"""``asterrl data {fetch,import,validate,list,instruments}``: market data into and out of the store.

``fetch`` also stores the exchange's ``exchangeInfo`` entry of ``data.symbol`` beside its bars;
``instruments`` lists every symbol whose ``Instrument`` can be resolved, and where from.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from asterrl.data.importer import (
    FileSpec,
    data_files,
    default_store_root,
    import_file,
    infer_spec,
    read_and_validate,
)
from asterrl.data.io import NotMarketDataError
from asterrl.data.schema import SUPPORTED_INTERVALS, DataKind, Market
from asterrl.data.store import MarketStore
from asterrl.errors import AsterRLError, ConfigError, DataError, OfflineError
from experiments.cli import split_overrides
from experiments.config import load_config
from experiments.schema import AsterRLConfig


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so usage errors end as one line like every other error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="asterrl data", description=__doc__)
    sub = parser.add_subparsers(
        dest="action", required=True, metavar="{fetch,import,validate,list,instruments}"
    )

    sub.add_parser("fetch", help="fetch the configured series (data.*) and the symbol's rules into the store")

    imp = sub.add_parser("import", help="import a file, or every data file under a folder, into the store")
    imp.add_argument("path", type=Path)
    _add_spec_options(imp)

    val = sub.add_parser("validate", help="print the validation report of a file (exit 0 when usable)")
    val.add_argument("path", type=Path)
    _add_spec_options(val)

    sub.add_parser("list", help="list the series in the store")
    sub.add_parser(
        "instruments", help="list the symbols' trading rules (store, data.instrument_files, bundled)"
    )
    return parser


def _add_spec_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--symbol", help="exchange symbol such as BTCUSDT (default: from the file name)")
    parser.add_argument(
        "--interval", choices=SUPPORTED_INTERVALS, help="bar interval (default: from the name)"
    )
    parser.add_argument("--kind", choices=[k.value for k in DataKind], help="default: from the columns")
    parser.add_argument(
        "--market", choices=[m.value for m in Market], help="default: perp, or spot by folder"
    )


def run(argv: Sequence[str]) -> int:
    options, overrides = split_overrides(argv)
    if any(flag in options for flag in ("-h", "--help")):
        _parser().parse_args(options)  # prints help and exits 0
    args = _parser().parse_args(options)
    cfg = load_config(overrides, resolve_instrument=False)  # fetching is how a new symbol's rules arrive
    store = MarketStore(cfg.data.store_dir or default_store_root())
    if args.action == "import":
        return _import(store, cfg, args)
    if args.action == "validate":
        return _validate(cfg, args)
    if args.action == "list":
        return _list(store)
    if args.action == "instruments":
        return _instruments(store, cfg)
    return _fetch(store, cfg)


def _spec(args: argparse.Namespace, path: Path) -> FileSpec:
    return infer_spec(path, args.symbol, args.interval, args.kind, args.market)


def _import(store: MarketStore, cfg: AsterRLConfig, args: argparse.Namespace) -> int:
    path: Path = args.path
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    paths = data_files(path) if path.is_dir() else [path]
    if path.is_dir() and (args.symbol or args.interval):
        raise DataError(
            "--symbol and --interval apply to one file; a folder's files are named by their paths"
        )
    failures = 0
    for file in paths:
        try:
            report, result = import_file(store, _spec(args, file), cfg.data.validation)
        except NotMarketDataError as exc:
            if not path.is_dir():
                raise
            print(f"skipped {file}: {exc.reason}")
            continue
        except AsterRLError as exc:
            failures += 1
            print(f"asterrl data import: error: {exc}", file=sys.stderr)
            continue
        notes = []
        if report.gaps:
            notes.append(f"{len(report.gaps)} gaps ({report.missing_bars} missing bars) kept as gaps")
        if report.rows_marked:
            notes.append(f"{report.rows_marked} rows marked")
        if report.rows_dropped:
            notes.append(f"{report.rows_dropped} rows dropped")
        suffix = f"; {', '.join(notes)}" if notes else ""
        print(
            f"{result.key.label()}: {result.added} rows added, {result.updated} updated, "
            f"{result.total} stored{suffix}"
        )
    if failures:
        if len(paths) > 1:
            print(f"asterrl data import: {failures} of {len(paths)} files failed", file=sys.stderr)
        return 2
    print(f"store: {store.root}")
    return 0


def _validate(cfg: AsterRLConfig, args: argparse.Namespace) -> int:
    _, report, _ = read_and_validate(_spec(args, args.path), cfg.data.validation)
    print(report.format())
    if not report.usable:
        print(f"asterrl data validate: error: {report.blocking_message()}", file=sys.stderr)
        return 1
    return 0


def _list(store: MarketStore) -> int:
    infos = store.list()
    if not infos:
        print(f"store {store.root} is empty (asterrl data import PATH, or asterrl data fetch)")
        return 0
    print(
        f"{'market':<6} {'symbol':<12} {'interval':<8} {'kind':<8} {'rows':>9}  first (UTC)       last (UTC)"
    )
    for info in infos:
        first = pd.Timestamp(info.first_ms, unit="ms").strftime("%Y-%m-%d %H:%M")
        last = pd.Timestamp(info.last_ms, unit="ms").strftime("%Y-%m-%d %H:%M")
        key = info.key
        print(
            f"{key.market.value:<6} {key.symbol:<12} {key.interval or '-':<8} {key.kind.value:<8} "
            f"{info.rows:>9}  {first}  {last}"
        )
    return 0


def _instruments(store: MarketStore, cfg: AsterRLConfig) -> int:
    from asterrl.data.instruments import instrument_sources, load_instrument

    print(
        f"{'symbol':<12} {'tick':>10} {'lot':>10} {'min qty':>10} {'min notional':>12} {'max lev':>8}  "
        "tiers  from"
    )
    unusable = 0
    for symbol, where in instrument_sources(cfg.data.instrument_files, store).items():
        try:
            inst = load_instrument(symbol, cfg.data.instrument_files, store)
        except AsterRLError as error:
            unusable += 1
            print(f"{symbol:<12} unusable: {error}")
            continue
        print(
            f"{inst.symbol:<12} {inst.tick_size:>10g} {inst.step_size:>10g} {inst.min_qty:>10g} "
            f"{inst.min_notional:>12g} {inst.max_leverage:>7g}x  {len(inst.brackets):>5}  {where}"
            f" (tiers: {inst.source.get('brackets', where)})"
        )
    return 1 if unusable else 0


def _fetch(store: MarketStore, cfg: AsterRLConfig) -> int:
    from asterrl.data.market import ensure_market_data, offline_hint, series_keys

    try:
        results = ensure_market_data(cfg.data, store, force_fetch=True, show_progress=True)
    except OfflineError as exc:
        stored = {info.key for info in store.list()}
        missing = [k for k in series_keys(cfg.data) if k not in stored]
        raise OfflineError(f"{exc}. {offline_hint(missing[0])}" if missing else str(exc)) from None
    for result in results:
        label = result.key.label()
        print(f"{label}: {result.added} rows added, {result.updated} updated, {result.total} stored")
    from asterrl.data.instruments import read_snapshot

    snapshot = read_snapshot(store, cfg.data.symbol)
    if snapshot is not None:
        print(f"instrument {snapshot.symbol}: exchangeInfo from {snapshot.source} stored")
    print(f"store: {store.root}")
    return 0
