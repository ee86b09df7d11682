"""``asterrl data fetch`` as freqtrade users expect: several symbols, an interval and a time range, with each
symbol's trading rules stored beside its bars."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from asterrl.data.instruments import read_snapshot
from asterrl.data.schema import DataKind, Market, SeriesKey
from asterrl.data.sources.synthetic import SyntheticMarket
from asterrl.data.store import MarketStore
from tests.data import test_fetch_cli as venue

JAN_2023, MAR_2023 = 1_672_531_200_000, 1_677_628_800_000


def test_fetch_symbols_interval_and_timerange(cli, _isolated_home: Path) -> None:  # type: ignore[no-untyped-def]
    book = venue.MarketDataBook()
    held: dict[str, pd.DataFrame] = {}
    for seed, symbol in enumerate(("BTCUSDT", "ETHUSDT")):
        market = SyntheticMarket(seed=seed)
        bars = market.fetch(SeriesKey(DataKind.OHLCV, Market.PERP, symbol, "1h"), JAN_2023, MAR_2023)
        book.add_bars(symbol, "1h", bars)
        book.add_funding(
            symbol, market.fetch(SeriesKey(DataKind.FUNDING, Market.PERP, symbol, None), JAN_2023, MAR_2023)
        )
        book.add_mark(
            symbol,
            "1h",
            market.fetch(SeriesKey(DataKind.MARK, Market.PERP, symbol, "1h"), JAN_2023, MAR_2023),
        )
        held[symbol] = bars
    with venue.LocalAsterServer(book) as aster:
        result = cli(
            "data", "fetch", "--symbols", "BTCUSDT,ETHUSDT", "--interval", "1h",
            "--timerange", "20230101-20230201",
            f"data.endpoints.aster_url={aster.base_url}", "data.endpoints.binance_url=http://127.0.0.1:9",
            "data.endpoints.max_retries=1",
        )  # fmt: skip
    assert result.code == 0, result.err
    store = MarketStore(_isolated_home / "store")
    for symbol, bars in held.items():
        stored = store.read(SeriesKey(DataKind.OHLCV, Market.PERP, symbol, "1h"))
        january = bars[bars["timestamp"] < 1_675_209_600_000].reset_index(drop=True)  # end exclusive
        assert len(stored) == 31 * 24
        pd.testing.assert_frame_equal(stored, january, check_exact=True)
        assert f"perp {symbol} 1h ohlcv: 744 rows added" in result.out
        assert store.has(SeriesKey(DataKind.FUNDING, Market.PERP, symbol, None))
        # the symbol's trading rules (exchangeInfo) are stored beside its bars
        snapshot = read_snapshot(store, symbol)
        assert snapshot is not None and snapshot.symbol == symbol
        assert f"instrument {symbol}: exchangeInfo from" in result.out
    bad = cli("data", "fetch", "--timerange", "2023-01-01")
    assert bad.code == 2 and "--timerange '2023-01-01': expected YYYYMMDD-YYYYMMDD" in bad.err
