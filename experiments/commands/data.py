"""``asterrl data {fetch,import,validate,list,instruments}``: market data into and out of the store.

``fetch`` also stores the exchange's ``exchangeInfo`` entry of each symbol beside its bars;
``instruments`` lists every symbol whose ``Instrument`` can be resolved, and where from.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
from experiments.config import load_config
from experiments.hydra_cli import (
    OVERRIDES_HELP,
    CommandParser,
    CommandRun,
    Summary,
    add_hydra_options,
    parse,
    run_command,
)
from experiments.schema import AsterRLConfig

DESCRIPTION = """\
Market data into and out of the embedded store ($ASTERRL_HOME/store, or data.store_dir).

  fetch        fetch bars (funding and mark for perps) and the symbol's trading rules (exchangeInfo)
               from Aster (Binance as the fallback) into the store
  import       import a file, or every data file under a folder, into the store
  validate     print the validation report of a file (exit 0 when usable)
  list         list the series in the store
  instruments  list the symbols' trading rules (store, data.instrument_files, bundled)

examples:
  asterrl data fetch --symbols BTCUSDT,ETHUSDT --interval 1h --timerange 20240101-20240601
  asterrl data fetch data.symbol=ETHUSDT data.interval=4h data.start=2024-01-01 data.end=2024-06-01
  asterrl data import ../shared/data
  asterrl data validate ../shared/data/spot_ohlcv/BTCUSDT_1h.csv.gz"""

FETCH_HELP = """\
Fetch the configured series (data.symbol, data.interval, data.start .. data.end) into the store, as
freqtrade's download-data does: --symbols, --interval and --timerange set data.symbol (one fetch per
symbol), data.interval and data.start/data.end. Fetching a span twice stores it once."""


def _parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="asterrl data",
        allow_abbrev=False,
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(
        dest="action",
        required=True,
        metavar="{fetch,import,validate,list,instruments}",
        parser_class=CommandParser,
    )

    fetch = _subcommand(
        sub, "fetch", "fetch bars, funding, mark and the symbol's trading rules into the store", FETCH_HELP
    )
    fetch.add_argument("--symbols", help="comma-separated symbols, e.g. BTCUSDT,ETHUSDT (data.symbol)")
    fetch.add_argument("--interval", choices=SUPPORTED_INTERVALS, help="bar interval (data.interval)")
    fetch.add_argument(
        "--timerange",
        help="YYYYMMDD-YYYYMMDD, YYYYMMDD- or -YYYYMMDD in UTC, end exclusive (data.start, data.end)",
    )

    imp = _subcommand(sub, "import", "import a file, or every data file under a folder, into the store")
    imp.add_argument("path", type=Path)
    _add_spec_options(imp)

    val = _subcommand(sub, "validate", "print the validation report of a file (exit 0 when usable)")
    val.add_argument("path", type=Path)
    _add_spec_options(val)

    _subcommand(sub, "list", "list the series in the store")
    _subcommand(sub, "instruments", "list the symbols' trading rules (store, data.instrument_files, bundled)")
    return parser


def _subcommand(
    sub: Any, name: str, help_text: str, description: str | None = None
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help_text,
        description=description or help_text,
        prog=f"asterrl data {name}",
        allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=OVERRIDES_HELP,
    )
    add_hydra_options(parser)
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


def timerange_overrides(text: str) -> list[str]:
    """``data.start``/``data.end`` overrides of a freqtrade-style time range (``20240101-20240601``)."""
    match = re.fullmatch(r"(\d{8})?-(\d{8})?", text.strip())
    if not match or not (match.group(1) or match.group(2)):
        raise ConfigError(f"--timerange {text!r}: expected YYYYMMDD-YYYYMMDD, YYYYMMDD- or -YYYYMMDD")
    out = []
    for key, day in (("data.start", match.group(1)), ("data.end", match.group(2))):
        if day:
            try:
                stamp = pd.Timestamp(f"{day[:4]}-{day[4:6]}-{day[6:]}")
            except ValueError:
                raise ConfigError(f"--timerange {text!r}: {day} is not a date") from None
            out.append(f"{key}={stamp.date().isoformat()}")
    if len(out) == 2 and out[0].split("=")[1] >= out[1].split("=")[1]:
        raise ConfigError(f"--timerange {text!r}: the end must come after the start")
    return out


def run(argv: Sequence[str]) -> int:
    invocation = parse(_parser(), argv)
    args = invocation.args
    if args.action == "fetch":
        return _fetch_command(invocation)

    def job(cfg: AsterRLConfig) -> Summary:
        store = MarketStore(cfg.data.store_dir or default_store_root())
        if args.action == "import":
            code = _import(store, cfg, args)
        elif args.action == "validate":
            code = _validate(cfg, args)
        elif args.action == "instruments":
            code = _instruments(store, cfg)
        else:
            code = _list(store)
        if code:
            raise _Exit(code)
        return None

    try:  # fetching is how a new symbol's rules arrive: no instrument is needed up front
        return run_command(invocation, job, resolve_instrument=False)
    except _Exit as done:
        return done.code


class _Exit(AsterRLError):
    """A non-zero exit whose reason is already printed."""

    def __init__(self, code: int) -> None:
        super().__init__(f"exit {code}")
        self.code = code


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


def _fetch_command(invocation: CommandRun) -> int:
    """``fetch``: one fetch per symbol of ``--symbols`` (every config composed and checked first)."""
    args, overrides = invocation.args, invocation.overrides
    extra = [f"data.interval={args.interval}"] if args.interval else []
    extra += timerange_overrides(args.timerange) if args.timerange else []
    symbols = [s.strip().upper() for s in (args.symbols or "").split(",") if s.strip()]
    if args.symbols is not None and not symbols:
        raise ConfigError("--symbols needs at least one symbol, e.g. --symbols BTCUSDT,ETHUSDT")
    if args.cfg or args.info or args.multirun:
        per_symbol = [f"data.symbol={symbols[0]}"] if symbols else []
        invocation = CommandRun(args, [*overrides, *extra, *per_symbol])
        return run_command(invocation, _fetch_job, resolve_instrument=False)
    configs = [
        load_config([*overrides, *extra, f"data.symbol={s}"], resolve_instrument=False) for s in symbols
    ] or [load_config([*overrides, *extra], resolve_instrument=False)]
    for cfg in configs:
        _fetch_job(cfg)
    return 0


def _fetch_job(cfg: AsterRLConfig) -> Summary:
    store = MarketStore(cfg.data.store_dir or default_store_root())
    _fetch(store, cfg)
    return {"symbol": cfg.data.symbol}


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
