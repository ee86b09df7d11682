"""Where instruments come from: `asterrl data fetch` stores exchangeInfo, user files, the bundled file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from asterrl.data.instruments import (
    BUNDLED_FILE,
    bundled_instruments,
    instrument_sources,
    load_instrument,
    read_instruments_file,
    read_snapshot,
)
from asterrl.data.store import MarketStore
from asterrl.errors import ConfigError
from asterrl.exchange.local.market_data import MarketDataBook, SymbolSpec
from asterrl.exchange.local.server import LocalAsterServer

T0 = 1_672_531_200_000  # 2023-01-01 UTC
HOUR = 3_600_000
DOGE_TIERS = """instruments:
  - symbol: DOGEUSDT
    tick_size: 0.00001
    step_size: 1
    min_qty: 1
    max_qty: 10000000
    min_notional: 5
    brackets:
      - {notional_floor: 0, notional_cap: 10000, maint_margin_rate: 0.005, maint_amount: 0,
         max_leverage: 75}
      - {notional_floor: 10000, notional_cap: inf, maint_margin_rate: 0.01, maint_amount: 50,
         max_leverage: 50}
"""


def _doge_bars(n: int = 48) -> pd.DataFrame:
    close = 0.12 + 0.0001 * np.arange(n)
    return pd.DataFrame(
        {
            "timestamp": T0 + HOUR * np.arange(n, dtype=np.int64),
            "open": close,
            "high": close + 0.0002,
            "low": close - 0.0002,
            "close": close,
            "volume": np.full(n, 1e6),
        }
    )


def test_bundled_instruments_cover_the_shared_dataset_and_record_every_source() -> None:
    found = bundled_instruments()
    assert {"BTCUSDT", "ASTERUSDT", "ETHUSDT", "LTCUSDT", "XRPUSDT"} <= set(found)
    assert found["XRPUSDT"].tick_size == 0.0001 and found["BTCUSDT"].tick_size == 0.1
    assert found["ASTERUSDT"].market_max_qty == 200_000.0  # reference section 10's snapshot
    for instrument in found.values():
        for key in ("tick_size", "step_size", "min_notional", "brackets"):
            assert instrument.source[key], (instrument.symbol, key)
    assert read_instruments_file(BUNDLED_FILE) == found


def test_an_unknown_symbol_is_one_line_saying_how_to_add_it() -> None:
    with pytest.raises(ConfigError) as caught:
        load_instrument("DOGEUSDT")
    message = str(caught.value)
    assert "\n" not in message
    assert "asterrl data fetch data.symbol=DOGEUSDT" in message and "data.instrument_files" in message


def test_a_user_file_adds_a_symbol_and_a_bad_one_names_the_key(tmp_path: Path) -> None:
    good = tmp_path / "mine.yaml"
    good.write_text(DOGE_TIERS)
    doge = load_instrument("dogeusdt", [good])
    assert (doge.tick_size, doge.step_size, doge.max_leverage) == (0.00001, 1.0, 75.0)
    assert doge.source["tick_size"] == str(good)
    bad = tmp_path / "bad.json"
    bad.write_text(
        '{"instruments": [{"symbol": "XUSDT", "tick_size": -1, "step_size": 1, "min_qty": 1, '
        '"max_qty": 2, "min_notional": 5, "brackets": [{"notional_floor": 0, "notional_cap": "inf", '
        '"maint_margin_rate": 0.01, "maint_amount": 0, "max_leverage": 20}]}]}'
    )
    with pytest.raises(ConfigError, match="tick_size must be > 0"):
        load_instrument("XUSDT", [bad])
    broken = tmp_path / "broken.yaml"
    broken.write_text("instruments: [ {")
    with pytest.raises(ConfigError, match="not valid YAML/JSON"):
        load_instrument("BTCUSDT", [broken])


def test_fetch_stores_exchange_info_beside_the_bars_and_instruments_lists_it(  # type: ignore[no-untyped-def]
    cli, _isolated_home: Path, tmp_path: Path
) -> None:
    book = MarketDataBook()
    spec = SymbolSpec.for_price("DOGEUSDT", 0.12)  # tick 1e-6, step 10: the venue's, not the file's
    book.add_symbol(spec)
    book.add_bars("DOGEUSDT", "1h", _doge_bars())
    tiers = tmp_path / "doge.yaml"
    tiers.write_text(DOGE_TIERS)
    with LocalAsterServer(book) as server:
        args = [
            f"data.endpoints.aster_url={server.base_url}",
            "data.endpoints.binance_url=http://127.0.0.1:9",
            "data.symbol=DOGEUSDT",
            "data.start=2023-01-01",
            "data.end=2023-01-02",
            "data.with_funding=false",
            "data.with_mark=false",
            "data.endpoints.max_retries=0",
        ]
        done = cli("data", "fetch", *args)
    assert done.code == 0, done.err
    assert "instrument DOGEUSDT: exchangeInfo from aster stored" in done.out
    store = MarketStore(_isolated_home / "store")
    snapshot = read_snapshot(store, "DOGEUSDT")
    assert snapshot is not None and snapshot.leverage_brackets is None
    # The venue's filters, the margin tiers from the user's file (/leverageBracket needs keys).
    with pytest.raises(ConfigError, match="no margin tiers"):
        load_instrument("DOGEUSDT", store=store)
    doge = load_instrument("DOGEUSDT", [tiers], store=store)
    assert (doge.tick_size, doge.step_size) == (float(spec.tick_size), float(spec.step_size))
    assert doge.source["tick_size"].startswith("store aster exchangeInfo")
    assert doge.source["brackets"].startswith("fallback") and doge.max_leverage == 75.0
    listed = instrument_sources([tiers], store)
    assert listed["DOGEUSDT"] == "store" and listed["BTCUSDT"] == "bundled"
    shown = cli("data", "instruments", f"data.instrument_files=[{tiers}]")
    assert shown.code == 0, shown.err
    assert any(line.startswith("DOGEUSDT") and "store" in line for line in shown.out.splitlines())
    # Without the file the stored DOGEUSDT lacks tiers: listed as unusable, with the reason, exit 1.
    bare = cli("data", "instruments")
    assert bare.code == 1
    assert any(line.startswith("DOGEUSDT") and "no margin tiers" in line for line in bare.out.splitlines())


@pytest.mark.parametrize("symbol", ["XRPUSDT", "ETHUSDT", "BTCUSDT"])
def test_the_local_exchange_lists_and_trades_the_instrument_the_data_was_loaded_with(symbol: str) -> None:
    """``asterrl exchange serve`` replays a symbol under the rules the env trades it on (before: XRPUSDT at
    0.5 USDT was listed with a 1e-6 tick and a lot of 1 XRP, the bundled instrument says 0.0001 and 0.1)."""
    from asterrl.data.market import MarketData
    from asterrl.data.schema import DataKind, Market, SeriesKey
    from asterrl.exchange.local.replay import book_from_markets

    inst = load_instrument(symbol)
    bars = _doge_bars().assign(open=0.5, high=0.51, low=0.49, close=0.5)
    key = SeriesKey(DataKind.OHLCV, Market.PERP, symbol, "1h")
    book = book_from_markets([MarketData(key, bars, None, None, "test", inst)])
    server = LocalAsterServer(book, now_ms=lambda: T0 + 10 * HOUR, margin_tiers={symbol: inst.brackets})
    traded = server.open_market(symbol, "1h").instrument
    for name in ("tick_size", "step_size", "min_qty", "max_qty", "market_max_qty", "min_notional",
                 "liquidation_fee", "brackets", "max_leverage"):  # fmt: skip
        assert getattr(traded, name) == getattr(inst, name), name
    if inst.percent_price is not None:  # the venue always lists a band: Aster's 1.02 / 0.98 when none given
        assert traded.percent_price == inst.percent_price
    listed = {f["filterType"]: f for f in book.exchange_info(T0, 2400)["symbols"][0]["filters"]}
    assert float(listed["PRICE_FILTER"]["tickSize"]) == inst.tick_size
    assert float(listed["LOT_SIZE"]["stepSize"]) == inst.step_size


def test_the_local_exchange_opens_no_symbol_on_another_symbols_margin_tiers(tmp_path: Path) -> None:
    # Before: a symbol with no tiers given and none bundled was margined with BTCUSDT's, in silence.
    book = MarketDataBook()
    book.add_symbol(SymbolSpec.for_price("DOGEUSDT", 0.12))
    book.add_bars("DOGEUSDT", "1h", _doge_bars())
    server = LocalAsterServer(book, now_ms=lambda: T0 + 10 * HOUR)
    with pytest.raises(ConfigError, match=r"local exchange: no margin tiers for DOGEUSDT: pass margin_tiers"):
        server.open_market("DOGEUSDT", "1h")
    (tmp_path / "doge.yaml").write_text(DOGE_TIERS)
    tiers = read_instruments_file(tmp_path / "doge.yaml")["DOGEUSDT"].brackets
    named = LocalAsterServer(book, now_ms=lambda: T0 + 10 * HOUR, margin_tiers={"DOGEUSDT": tiers})
    assert named.open_market("DOGEUSDT", "1h").instrument.brackets == tiers
