"""Market data as a run uses it: the configured series, from the store, fetched on first use, or generated.

``load_market(cfg)`` is the one entry point the environments, training and research tools call. For the
remote sources it serves the span from the store and fetches only what the store lacks (with a progress
bar), so the first run downloads and later runs read locally. Offline with nothing stored it ends with one
line naming the ways out.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from asterrl.data.config import DataConfig, SourceName, parse_time_ms
from asterrl.data.instruments import (
    load_instrument,
    read_snapshot,
    snapshot_from_exchange_info,
    write_snapshot,
)
from asterrl.data.io import read_table
from asterrl.data.schema import DataKind, Market, SeriesKey
from asterrl.data.sources.aster import AsterSource
from asterrl.data.sources.base import MarketDataSource
from asterrl.data.sources.binance import BinanceSource
from asterrl.data.sources.fallback import FallbackSource
from asterrl.data.sources.http import RetryPolicy
from asterrl.data.sources.synthetic import SyntheticMarket
from asterrl.data.store import MarketStore, WriteResult, frame_hash
from asterrl.data.validate import require_usable, validate_series
from asterrl.errors import ConfigError, DataError, OfflineError
from asterrl.sim.instrument import Instrument

_REMOTE = (SourceName.ASTER, SourceName.BINANCE)


@dataclass
class MarketData:
    """The bars of one symbol with its funding and mark series (``None`` when not loaded or spot) and its
    ``Instrument`` (the symbol's trading rules travel with its data)."""

    key: SeriesKey
    bars: pd.DataFrame
    funding: pd.DataFrame | None
    mark: pd.DataFrame | None
    source: str
    instrument: Instrument

    @property
    def data_hash(self) -> str:
        """sha256 over the loaded frames: the data identity recorded with every run."""
        digest = hashlib.sha256()
        for frame in (self.bars, self.funding, self.mark):
            digest.update(b"-" if frame is None else frame_hash(frame).encode())
        return digest.hexdigest()


def series_keys(cfg: DataConfig) -> list[SeriesKey]:
    """The bars key, then funding and mark keys when configured (perpetuals only)."""
    keys = [SeriesKey(DataKind.OHLCV, cfg.market, cfg.symbol, cfg.interval)]
    if cfg.market is Market.PERP:
        if cfg.with_funding:
            keys.append(SeriesKey(DataKind.FUNDING, cfg.market, cfg.symbol, None))
        if cfg.with_mark:
            keys.append(SeriesKey(DataKind.MARK, cfg.market, cfg.symbol, cfg.interval))
    return keys


def build_source(cfg: DataConfig, name: SourceName, seed: int = 0) -> MarketDataSource:
    """The source object for a configured source name."""
    endpoints = cfg.endpoints
    retry = RetryPolicy(max_retries=endpoints.max_retries)
    if name is SourceName.ASTER:
        return AsterSource(
            endpoints.aster_url,
            timeout_s=endpoints.timeout_s,
            retry=retry,
            weight_budget_fraction=endpoints.weight_budget,
        )
    if name is SourceName.BINANCE:
        return BinanceSource(
            endpoints.binance_url,
            endpoints.binance_spot_url,
            timeout_s=endpoints.timeout_s,
            retry=retry,
            weight_budget_fraction=endpoints.weight_budget,
        )
    if name is SourceName.SYNTHETIC:
        return SyntheticMarket(cfg.synthetic, seed=seed)
    raise ConfigError(f"data.source={name.value} is not a remote source")


def remote_source(cfg: DataConfig) -> MarketDataSource:
    """The primary remote source with its configured fallbacks behind it."""
    names = [cfg.source, *[n for n in cfg.fallback if n is not cfg.source]]
    bad = [n.value for n in names if n not in _REMOTE]
    if bad:
        raise ConfigError(
            f"data.fallback may name only remote sources (aster, binance), not {', '.join(bad)}"
        )
    return FallbackSource([build_source(cfg, n) for n in names], name="+".join(n.value for n in names))


def ensure_market_data(
    cfg: DataConfig,
    store: MarketStore,
    force_fetch: bool = False,
    show_progress: bool = True,
    source: MarketDataSource | None = None,
) -> list[WriteResult]:
    """Bring the store up to date for the configured series and span; return what each write did.

    A series already stored is left alone unless ``force_fetch`` or ``cfg.refresh``; then only bars before the
    first or after the last stored one are fetched (the store's upsert keeps one copy of any overlap).
    """
    if cfg.source not in _REMOTE:
        raise ConfigError(f"data.source={cfg.source.value}: only aster and binance can be fetched")
    source = source or remote_source(cfg)
    start = parse_time_ms(cfg.start, "start")
    end = parse_time_ms(cfg.end, "end") if cfg.end else int(time.time() * 1000)
    if end <= start:
        raise ConfigError(f"data.end ({cfg.end}) must be after data.start ({cfg.start})")
    results = []
    for key in series_keys(cfg):
        infos = [i for i in store.list() if i.key == key]
        if infos and not (force_fetch or cfg.refresh):
            continue
        spans = [(start, end)]
        if infos:
            step = key.interval_ms or 1
            first, last = infos[0].first_ms, infos[0].last_ms
            spans = [(start, min(first, end)), (max(start, last + step), end)]
        frames = [_fetch_span(source, key, s, e, show_progress) for s, e in spans if e > s]
        fetched = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        if fetched.empty:
            results.append(WriteResult(key, 0, 0, infos[0].rows if infos else 0))
            continue
        served_by = str(frames[-1].attrs.get("source", getattr(source, "name", "remote")))
        report, cleaned = validate_series(fetched, key, cfg.validation, source=served_by)
        require_usable(report)
        results.append(store.write(key, cleaned, source=served_by))
    if cfg.market is Market.PERP:
        ensure_instrument(cfg.symbol, store, source, force_fetch or cfg.refresh)
    return results


def ensure_instrument(symbol: str, store: MarketStore, source: MarketDataSource, force: bool = False) -> None:
    """Store the exchange's ``exchangeInfo`` entry of ``symbol`` beside its bars (unless stored already).

    The ``/leverageBracket`` tiers need a signed request, so they are not fetched here; the instrument
    then takes its tiers from the instruments files (``asterrl.data.instruments``), which says so.
    """
    if read_snapshot(store, symbol) is not None and not force:
        return
    info = source.exchange_info()
    served_by = getattr(source, "exchange_info_source", "") or getattr(source, "name", "remote")
    write_snapshot(store, snapshot_from_exchange_info(info, symbol, served_by))


def offline_hint(key: SeriesKey) -> str:
    """The ways out when no source can be reached and the store lacks ``key``."""
    return (
        f"Nothing is stored for {key.label()}: work offline with data=synthetic, or import local files "
        "with `asterrl data import PATH` (the shared dataset: `asterrl data import ../shared/data`) and "
        "use the stored series or data.source=file"
    )


def _fetch_span(source: MarketDataSource, key: SeriesKey, start: int, end: int, show: bool) -> pd.DataFrame:
    bar_format = "{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}"
    # disable=None shows the bar on a terminal only: logs and pipes get no carriage-return noise.
    disable = None if show else True
    label = f"fetch {key.label()}"
    with tqdm(total=end - start, desc=label, disable=disable, leave=False, bar_format=bar_format) as bar:
        covered = 0

        def progress(rows: int, span_ms: int) -> None:
            nonlocal covered
            bar.update(max(0, span_ms - covered))
            covered = max(covered, span_ms)

        return source.fetch(key, start, end, progress)


def load_market(
    cfg: DataConfig, seed: int = 0, store: MarketStore | None = None, show_progress: bool = True
) -> MarketData:
    """The configured symbol's bars (and funding and mark) over ``[data.start, data.end)``, validated.

    :param cfg: the ``data`` section of the configuration.
    :param seed: seed of the synthetic market (``data.source=synthetic``).
    :param store: the store to read and fill (default: ``data.store_dir`` or ``$ASTERRL_HOME/store``).
    """
    from asterrl.data.importer import default_store_root

    keys = series_keys(cfg)
    start = parse_time_ms(cfg.start, "start")
    end = parse_time_ms(cfg.end, "end") if cfg.end else None
    store = store or MarketStore(cfg.store_dir or default_store_root())
    instrument = load_instrument(cfg.symbol, cfg.instrument_files, store)
    if cfg.source is SourceName.SYNTHETIC:
        synthetic = SyntheticMarket(cfg.synthetic, seed=seed)
        stop = end if end is not None else int(time.time() * 1000)
        frames = {k.kind: synthetic.fetch(k, start, stop) for k in keys}
        return _assemble(keys[0], frames, f"synthetic(seed={seed})", instrument)
    if cfg.source is SourceName.FILE:
        return _assemble(keys[0], _read_files(cfg, keys, start, end), "file", instrument)
    missing = [k for k in keys if not store.has(k)]
    if missing or cfg.refresh:
        try:
            ensure_market_data(cfg, store, show_progress=show_progress)
        except OfflineError as exc:
            if missing:
                raise OfflineError(f"{exc}. {offline_hint(missing[0])}") from None
    frames = {k.kind: store.read(k, start, end) for k in keys}
    return _assemble(keys[0], frames, f"store:{store.root}", instrument)


def _read_files(
    cfg: DataConfig, keys: list[SeriesKey], start: int, end: int | None
) -> dict[DataKind, pd.DataFrame]:
    paths = {
        DataKind.OHLCV: cfg.files.ohlcv,
        DataKind.FUNDING: cfg.files.funding,
        DataKind.MARK: cfg.files.mark,
    }
    frames = {}
    for key in keys:
        path = paths[key.kind]
        if not path:
            if key.kind is DataKind.OHLCV:
                raise ConfigError("data.source=file needs data.files.ohlcv (a CSV, CSV.gz or Parquet file)")
            continue
        file = Path(path).expanduser()
        if key.kind is not DataKind.OHLCV and not file.exists():
            switch = "data.with_mark" if key.kind is DataKind.MARK else "data.with_funding"
            raise DataError(
                f"{file}: no such file (data.files.{key.kind.value}); point data.files.{key.kind.value} at "
                f"the {key.kind.value} file or set {switch}=false"
            )
        frame, _ = read_table(file, key.kind)
        report, cleaned = validate_series(frame, key, cfg.validation, source=path)
        require_usable(report)
        ts = cleaned["timestamp"]
        mask = (ts >= start) & (ts < end) if end is not None else ts >= start
        frames[key.kind] = cleaned.loc[mask].reset_index(drop=True)
    return frames


def _assemble(
    key: SeriesKey, frames: dict[DataKind, pd.DataFrame], source: str, instrument: Instrument
) -> MarketData:
    bars = frames[DataKind.OHLCV]
    if bars.empty:
        raise DataError(f"no {key.label()} bars in the configured span (check data.start and data.end)")
    funding, mark = frames.get(DataKind.FUNDING), frames.get(DataKind.MARK)
    return MarketData(key, bars.reset_index(drop=True), funding, mark, source, instrument)
