"""What an env trades on: bars, funding, mark and the ``Instrument``, from frames, files or the data config.

An env built inside a run gets the run's ``asterrl.data.market.MarketData`` (which carries its instrument).
Built on its own (``gymnasium.make("asterrl/AsterPerp-v0", ...)``) it takes either ``data_config`` (a data
section: the same ``data.*`` keys as the run config, loaded with ``load_market``) or the bars explicitly
(a DataFrame or a file, with optional funding and mark) together with ``instrument`` (an ``Instrument`` or
a symbol resolved with ``load_instrument``). Nothing defaults to a symbol.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from asterrl.data.config import DataConfig
from asterrl.data.market import MarketData, load_market
from asterrl.errors import ConfigError
from asterrl.sim.instrument import Instrument

Frame = pd.DataFrame | str | Path | None


@dataclass(frozen=True)
class EnvMarket:
    """The frames and the instrument an env is built on."""

    bars: pd.DataFrame
    funding: pd.DataFrame | None
    mark: pd.DataFrame | None
    instrument: Instrument


def _read(source: Frame, kind: str) -> pd.DataFrame | None:
    if source is None or isinstance(source, pd.DataFrame):
        return source
    from asterrl.data.io import read_table

    frame, _ = read_table(source, kind)
    return frame


def as_data_config(data_config: DataConfig | dict[str, Any] | DictConfig) -> DataConfig:
    """A validated ``DataConfig`` from a dataclass, a dict or an OmegaConf node (one line on a bad key)."""
    if isinstance(data_config, DataConfig):
        return data_config
    try:
        merged = OmegaConf.merge(OmegaConf.structured(DataConfig), data_config)
        out = OmegaConf.to_object(merged)
    except Exception as error:  # omegaconf raises several types for bad keys and values
        raise ConfigError(f"invalid data config: {str(error).splitlines()[0]}") from None
    assert isinstance(out, DataConfig)
    return out


def resolve_instrument(instrument: Instrument | str) -> Instrument:
    """An ``Instrument`` as given, or the one ``load_instrument`` finds for a symbol."""
    if isinstance(instrument, Instrument):
        return instrument
    if isinstance(instrument, str):
        from asterrl.data.importer import default_store_root
        from asterrl.data.instruments import load_instrument
        from asterrl.data.store import MarketStore

        return load_instrument(instrument, store=MarketStore(default_store_root()))
    raise ConfigError(f"instrument must be an Instrument or a symbol, got {type(instrument).__name__}")


def env_market(
    data: MarketData | Frame = None,
    funding: Frame = None,
    mark: Frame = None,
    instrument: Instrument | str | None = None,
    data_config: DataConfig | dict[str, Any] | DictConfig | None = None,
    seed: int = 0,
) -> EnvMarket:
    """Resolve the env's market from exactly one of ``data`` (+ ``instrument``) and ``data_config``."""
    if isinstance(data, MarketData):
        chosen = instrument if instrument is not None else data.instrument
        return EnvMarket(data.bars, data.funding, data.mark, resolve_instrument(chosen))
    if data is None:
        if data_config is None:
            raise ConfigError(
                "the env needs market data: pass data_config (the data section, e.g. {'source': 'file', "
                "'symbol': 'XRPUSDT', 'files': {...}}) or data=<bars frame or file> with instrument=<symbol>"
            )
        loaded = load_market(as_data_config(data_config), seed, show_progress=False)
        return env_market(loaded, instrument=instrument)
    if data_config is not None:
        raise ConfigError("pass either data (with instrument) or data_config, not both")
    if instrument is None:
        raise ConfigError(
            "bars passed without an instrument: pass instrument=<symbol or Instrument> (the symbol's tick, "
            "lot and margin tiers), or data_config with data.symbol"
        )
    bars = _read(data, "ohlcv")
    assert bars is not None
    return EnvMarket(bars, _read(funding, "funding"), _read(mark, "mark"), resolve_instrument(instrument))
