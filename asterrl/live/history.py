"""The bars the bridge decides on: closed klines, mark-price klines and funding settlements of one symbol.

Warmed up from REST at start (``history_bars`` closed bars before now), then extended with every bar that
closes (gaps are fetched again, so a dropped stream loses nothing). The frames are canonical (as the data
layer and the env read them) and bounded to ``history_bars`` rows; funding keeps the newest
``FUNDING_ROWS`` settlements (the newest bar's last settled rate and the schedule need only the last two).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pandas as pd

from asterrl.data.schema import DataKind
from asterrl.errors import DataError

#: Funding settlements kept.
FUNDING_ROWS = 64
#: Fetches a canonical frame of ``kind`` with rows in ``[start_ms, end_ms)``.
Fetch = Callable[[DataKind, int, int], Awaitable[pd.DataFrame]]


class MarketHistory:
    """Closed bars, mark and funding held for decisions.

    :param fetch: REST history (``Venue.history_frame``).
    :param interval_ms: bar length, ms.
    :param history_bars: bars kept (the oldest are dropped).
    """

    def __init__(self, fetch: Fetch, interval_ms: int, history_bars: int) -> None:
        self.fetch = fetch
        self.interval_ms = interval_ms
        self.history_bars = history_bars
        self.bars = pd.DataFrame()
        self.mark: pd.DataFrame | None = None
        self.funding: pd.DataFrame | None = None

    @property
    def last_open_ms(self) -> int | None:
        """Open time of the newest closed bar held."""
        return None if self.bars.empty else int(self.bars["timestamp"].iloc[-1])

    def due_close_ms(self) -> int | None:
        """When the next bar after the newest held one closes, ms."""
        last = self.last_open_ms
        return None if last is None else last + 2 * self.interval_ms

    async def warm_up(self, now_ms: int) -> int:
        """Load the ``history_bars`` closed bars before ``now_ms``; returns how many came."""
        start = (now_ms // self.interval_ms - self.history_bars) * self.interval_ms
        bars = await self.fetch(DataKind.OHLCV, start, now_ms)
        if bars.empty:
            raise DataError("the exchange returned no closed bars to warm the features up with")
        self.bars = _real_columns(bars).reset_index(drop=True)
        self.mark = await self._mark(start, now_ms)
        funding = await self._funding(start - 3 * max(self.interval_ms, 8 * 3_600_000), now_ms + 1)
        self.funding = None if funding is None else _appended(None, funding, FUNDING_ROWS)
        return len(self.bars)

    async def catch_up(self, now_ms: int) -> int:
        """Append the bars that closed since the newest held one (and their mark and funding); returns how
        many were added."""
        last = self.last_open_ms
        if last is None:
            return await self.warm_up(now_ms)
        start = last + self.interval_ms
        if now_ms < start + self.interval_ms:
            return 0
        new = await self.fetch(DataKind.OHLCV, start, now_ms)
        if new.empty:
            return 0
        self.bars = _real_columns(_appended(self.bars, _real_columns(new), self.history_bars))
        mark = await self._mark(start, now_ms)
        if mark is not None:
            self.mark = _appended(self.mark, mark, self.history_bars)
        held = self.funding
        last_funding = int(held["timestamp"].iloc[-1]) if held is not None and len(held) else 0
        funding = await self._funding(max(last_funding + 1, start - self.interval_ms), now_ms + 1)
        if funding is not None:
            self.funding = _appended(held, funding, FUNDING_ROWS)
        return len(new)

    async def _mark(self, start: int, end: int) -> pd.DataFrame | None:
        frame = await self.fetch(DataKind.MARK, start, end)
        return None if frame.empty else frame.reset_index(drop=True)

    async def _funding(self, start: int, end: int) -> pd.DataFrame | None:
        frame = await self.fetch(DataKind.FUNDING, start, end)
        return None if frame.empty else frame.reset_index(drop=True)


def _real_columns(bars: pd.DataFrame) -> pd.DataFrame:
    """``bars`` without a quote volume that is 0 where the base volume is not (a venue that does not know
    it; the market arrays then use volume x close, as for data without the column)."""
    if "quote_volume" in bars.columns:
        missing = (bars["quote_volume"] <= 0) & (bars["volume"] > 0)
        if missing.any():
            return bars.drop(columns=["quote_volume"])
    return bars


def _appended(old: pd.DataFrame | None, new: pd.DataFrame, keep: int | None) -> pd.DataFrame:
    """``old`` plus the rows of ``new`` after its last timestamp, the newest ``keep`` rows kept."""
    if old is None or old.empty:
        joined = new
    else:
        after = new[new["timestamp"] > old["timestamp"].iloc[-1]]
        joined = pd.concat([old, after], ignore_index=True) if len(after) else old
    if keep is not None and len(joined) > keep:
        joined = joined.iloc[-keep:]
    return joined.reset_index(drop=True)
