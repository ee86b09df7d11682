"""What the local exchange's market replays: bars (with mark and funding) from the store, a file or the
synthetic generator through ``asterrl.data``, or a live public feed followed one bar behind.

``book_from_markets`` lists each symbol with the filters of the instrument its data was loaded with (the
same rules the env, the sim and the gate read) and loads its series. :class:`LiveFeed` polls a public REST
source (Aster, or Binance as the backup feed) for bars that closed since the last poll, appends them to the
book and extends the traded market; the exchange's clock then runs one bar behind the wall clock, so the
current bar is always one whose open, high, low and close are known.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import pandas as pd

from asterrl.data.market import MarketData
from asterrl.data.schema import DataKind, Market, SeriesKey
from asterrl.data.sources.base import MarketDataSource
from asterrl.errors import AsterRLError
from asterrl.exchange.local.market_data import MarketDataBook, SymbolSpec

if TYPE_CHECKING:
    from asterrl.exchange.local.server import LocalAsterServer


def book_from_markets(markets: list[MarketData]) -> MarketDataBook:
    """A book holding every symbol's bars, mark and funding."""
    book = MarketDataBook()
    for md in markets:
        symbol, interval = md.key.symbol, str(md.key.interval)
        book.add_symbol(SymbolSpec.from_instrument(md.instrument))  # the rules the env trades on
        book.add_bars(symbol, interval, md.bars)
        if md.mark is not None and len(md.mark):
            book.add_mark(symbol, interval, md.mark)
        if md.funding is not None and len(md.funding):
            book.add_funding(symbol, md.funding)
    return book


class LiveFeed:
    """Keeps the local exchange's markets up to date from a public source.

    :param server: the exchange whose book and markets to extend.
    :param source: a ``MarketDataSource`` (``AsterSource``, ``BinanceSource`` or a fallback of both).
    :param symbols: the symbols to follow (already open on ``server``).
    :param interval: their bar interval.
    :param poll_s: seconds between polls.
    """

    def __init__(
        self,
        server: LocalAsterServer,
        source: MarketDataSource,
        symbols: list[str],
        interval: str,
        poll_s: float,
    ) -> None:
        self.server, self.source, self.symbols, self.interval = server, source, symbols, interval
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Rows appended so far, and the last error met (the feed keeps polling after one).
        self.rows_added = 0
        self.last_error: str | None = None

    def poll_once(self, now_ms: int | None = None) -> int:
        """Fetch what closed since the book's last bar; return the bars added."""
        now = int(time.time() * 1000) if now_ms is None else now_ms
        added = 0
        for symbol in self.symbols:
            bars, mark, funding, _ = self.server.book.series(symbol, self.interval)
            last = int(bars["timestamp"].iloc[-1]) if bars is not None and len(bars) else 0
            new_bars = self._fetch(symbol, DataKind.OHLCV, last + 1, now)
            if new_bars.empty:
                continue
            self.server.book.add_bars(symbol, self.interval, _joined(bars, new_bars))
            new_mark = self._fetch(symbol, DataKind.MARK, last + 1, now)
            if not new_mark.empty:
                self.server.book.add_mark(symbol, self.interval, _joined(mark, new_mark))
            last_funding = (
                int(funding["timestamp"].iloc[-1]) if funding is not None and len(funding) else last
            )
            new_funding = self._fetch(symbol, DataKind.FUNDING, last_funding + 1, now)
            if not new_funding.empty:
                self.server.book.add_funding(symbol, _joined(funding, new_funding))
            self.server.refresh_market(symbol)
            added += len(new_bars)
        self.rows_added += added
        return added

    def _fetch(self, symbol: str, kind: DataKind, start: int, end: int) -> pd.DataFrame:
        interval = None if kind is DataKind.FUNDING else self.interval
        return self.source.fetch(SeriesKey(kind, Market.PERP, symbol, interval), start, end)

    def start(self) -> None:
        """Poll in a background thread until ``stop``."""

        def run() -> None:
            while not self._stop.wait(self.poll_s):
                try:
                    self.poll_once()
                    self.last_error = None
                except AsterRLError as exc:  # the feed is down for now: keep serving, try again later
                    self.last_error = str(exc)

        self._thread = threading.Thread(target=run, name="live-feed", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30.0)


def _joined(old: pd.DataFrame | None, new: pd.DataFrame) -> pd.DataFrame:
    return new if old is None else pd.concat([old, new], ignore_index=True)
