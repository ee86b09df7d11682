"""Where a symbol's ``Instrument`` comes from: the store, the user's instruments files, the bundled file.

``load_instrument(symbol, extra_files, store)`` looks, in order:

1. in the store, for the exchange's ``exchangeInfo`` entry (and ``/leverageBracket`` answer, when it was
   fetched with keys) that ``asterrl data fetch`` keeps beside the bars
   (``<store>/kind=instrument/market=perp/symbol=<SYMBOL>/instrument.json``); without brackets the
   symbol's tiers come from the files below, recorded as such in ``Instrument.source``;
2. in the user's instruments files (``data.instrument_files``, YAML or JSON), in the order given;
3. in the bundled ``asterrl/data/instruments.yaml`` (the shared dataset's symbols).

An unknown symbol is one ``ConfigError`` line saying how to add it; nothing falls back to another symbol.
An instruments file is a mapping with an ``instruments`` list of ``Instrument.to_dict()`` entries (other
top-level keys are ignored: a place for YAML anchors), or the list itself.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from asterrl.data.config import DataConfig
from asterrl.data.schema import normalize_symbol
from asterrl.data.store import MarketStore
from asterrl.errors import ConfigError, DataError
from asterrl.files import atomic_write_json
from asterrl.sim.instrument import Instrument, MarginTier

BUNDLED_FILE = Path(__file__).with_name("instruments.yaml")
_SNAPSHOT_FILE = "instrument.json"


@dataclass(frozen=True)
class InstrumentSnapshot:
    """What the exchange said about one symbol, as stored by ``asterrl data fetch``.

    :param symbol: exchange symbol.
    :param exchange_info: the symbol's ``exchangeInfo.symbols[]`` entry, as returned (decimal strings).
    :param leverage_brackets: the ``/leverageBracket`` answer, or ``None`` when not fetched (signed).
    :param source: the venue that served it (``aster``, ``binance``).
    :param fetched_ms: when it was fetched, ms UTC.
    """

    symbol: str
    exchange_info: dict[str, Any]
    leverage_brackets: list[Any] | None
    source: str
    fetched_ms: int


def snapshot_path(store: MarketStore, symbol: str) -> Path:
    """Where the store keeps ``symbol``'s exchange snapshot (beside its bars' partitions)."""
    folder = store.root / "kind=instrument" / "market=perp" / f"symbol={normalize_symbol(symbol)}"
    return folder / _SNAPSHOT_FILE


def write_snapshot(store: MarketStore, snapshot: InstrumentSnapshot) -> Path:
    """Store ``snapshot`` atomically (after checking that its filters parse; tiers may come later)."""
    placeholder = (MarginTier(0.0, math.inf, 0.0, 0.0, 1.0),)  # only to check the filters here
    Instrument.from_exchange_info(snapshot.exchange_info, snapshot.leverage_brackets, placeholder)
    path = snapshot_path(store, snapshot.symbol)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "symbol": snapshot.symbol,
        "source": snapshot.source,
        "fetched_ms": snapshot.fetched_ms,
        "exchange_info": snapshot.exchange_info,
        "leverage_brackets": snapshot.leverage_brackets,
    }
    atomic_write_json(path, payload)
    return path


def read_snapshot(store: MarketStore, symbol: str) -> InstrumentSnapshot | None:
    """The stored snapshot of ``symbol``, or ``None``; a corrupt file is one ``DataError`` naming it."""
    path = snapshot_path(store, symbol)
    if not path.exists():
        return None
    try:
        raw = json.loads(path.read_text())
        return InstrumentSnapshot(
            str(raw["symbol"]), dict(raw["exchange_info"]), raw.get("leverage_brackets"), str(raw["source"]),
            int(raw["fetched_ms"]),
        )  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DataError(f"stored instrument {path} is unreadable ({error}); fetch it again") from None


def snapshot_from_exchange_info(
    info: dict[str, Any], symbol: str, source: str, leverage_brackets: list[Any] | None = None
) -> InstrumentSnapshot:
    """The snapshot of ``symbol`` out of a whole ``exchangeInfo`` answer; one line when it is not listed."""
    symbol = normalize_symbol(symbol)
    for entry in info.get("symbols", []) if isinstance(info, dict) else []:
        if isinstance(entry, dict) and entry.get("symbol") == symbol:
            return InstrumentSnapshot(symbol, entry, leverage_brackets, source, int(time.time() * 1000))
    raise DataError(f"{source} exchangeInfo does not list {symbol}")


def read_instruments_file(path: str | Path) -> dict[str, Instrument]:
    """The instruments of a YAML or JSON file by symbol, each validated (one line naming the bad key)."""
    path = Path(path).expanduser()
    origin = str(path)
    try:
        text = path.read_text()
        raw = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except OSError as error:
        raise ConfigError(f"instruments file {origin} cannot be read: {error.strerror or error}") from None
    except (ValueError, yaml.YAMLError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(f"instruments file {origin} is not valid YAML/JSON: {first}") from None
    entries = raw.get("instruments") if isinstance(raw, dict) else raw
    if not isinstance(entries, list):
        raise ConfigError(f"instruments file {origin} must hold a list 'instruments' of instrument mappings")
    out: dict[str, Instrument] = {}
    for entry in entries:
        instrument = Instrument.from_dict(entry, origin=origin)
        if instrument.symbol in out:
            raise ConfigError(f"instruments file {origin} lists {instrument.symbol} twice")
        out[instrument.symbol] = instrument
    return out


@cache
def bundled_instruments() -> dict[str, Instrument]:
    """The bundled instruments (read once per process)."""
    return read_instruments_file(BUNDLED_FILE)


def _any_tiers(symbol: str, files: Iterable[dict[str, Instrument]] = ()) -> tuple[Any, ...] | None:
    """The margin tiers of ``symbol`` from the user's files, else the bundled file, else ``None``."""
    for found in (*files, bundled_instruments()):
        if symbol in found:
            return found[symbol].brackets
    return None


def load_instrument(
    symbol: str, extra_files: Sequence[str | Path] = (), store: MarketStore | None = None
) -> Instrument:
    """The ``Instrument`` of ``symbol``: from the store, then ``extra_files``, then the bundled file.

    :raises ConfigError: the symbol is in none of them (the message says how to add it), or a file is bad.
    """
    symbol = normalize_symbol(symbol)
    files = [read_instruments_file(path) for path in extra_files]
    snapshot = read_snapshot(store, symbol) if store is not None else None
    if snapshot is not None:
        fetched = time.strftime("%Y-%m-%d", time.gmtime(snapshot.fetched_ms / 1000))
        tiers = _any_tiers(symbol, files)
        if snapshot.leverage_brackets is None and tiers is None:
            raise ConfigError(
                f"{symbol}: the store holds the exchange's filters but no margin tiers (/leverageBracket "
                "needs a signed request): give its brackets in a YAML/JSON file in data.instrument_files"
            )
        return Instrument.from_exchange_info(
            snapshot.exchange_info,
            snapshot.leverage_brackets,
            fallback_brackets=tiers,
            origin=f"store {snapshot.source} exchangeInfo of {fetched}",
        )
    for found in (*files, bundled_instruments()):
        if symbol in found:
            return found[symbol]
    raise ConfigError(
        f"no instrument for {symbol}: run `asterrl data fetch data.symbol={symbol}` to store the exchange's "
        f"rules beside the bars, or describe it in a YAML/JSON file named in data.instrument_files "
        f"(same keys as {BUNDLED_FILE.name} in the asterrl.data package)"
    )


def instrument_of(data: DataConfig) -> Instrument:
    """The instrument ``data.symbol`` selects, looked up in ``data``'s store and instrument files."""
    from asterrl.data.importer import default_store_root

    return load_instrument(
        data.symbol, data.instrument_files, MarketStore(data.store_dir or default_store_root())
    )


def instrument_sources(
    extra_files: Sequence[str | Path] = (), store: MarketStore | None = None
) -> dict[str, str]:
    """Every symbol ``load_instrument`` would look up, sorted, with where it resolves from first."""
    where: dict[str, str] = dict.fromkeys(bundled_instruments(), "bundled")
    for path in extra_files:
        where.update(dict.fromkeys(read_instruments_file(path), str(path)))
    if store is not None:
        for path in (store.root / "kind=instrument").glob(f"market=*/symbol=*/{_SNAPSHOT_FILE}"):
            where[path.parent.name.removeprefix("symbol=")] = "store"
    return dict(sorted(where.items()))
