"""A chain of sources: the next one serves when the one before it cannot be reached."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from asterrl.data.schema import SeriesKey
from asterrl.data.sources.base import MarketDataSource, ProgressCallback
from asterrl.data.sources.http import SourceUnavailableError
from asterrl.errors import OfflineError


class FallbackSource:
    """Serves each request from the first of ``sources`` that can.

    The next source is tried only when one is unavailable (network failure, 5xx, rate limit after every
    retry); a rejected request, such as an unknown symbol, fails at once. The returned frame's
    ``attrs["source"]`` names the source that served it.

    :param sources: sources in order of preference, e.g. ``[AsterSource(), BinanceSource()]``.
    """

    #: Name of the source that served the last ``exchange_info`` answer.
    exchange_info_source: str = ""

    def __init__(self, sources: Sequence[MarketDataSource], name: str = "fallback") -> None:
        if not sources:
            raise ValueError("FallbackSource needs at least one source")
        self.sources = list(sources)
        self.name = name

    def fetch(
        self,
        key: SeriesKey,
        start_ms: int,
        end_ms: int,
        progress: ProgressCallback | None = None,
    ) -> pd.DataFrame:
        """Rows of ``key`` in ``[start_ms, end_ms)`` from the first source that answers."""
        failures: list[str] = []
        for source in self.sources:
            try:
                frame = source.fetch(key, start_ms, end_ms, progress)
            except SourceUnavailableError as exc:
                failures.append(str(exc))
                continue
            frame.attrs["source"] = source.name
            return frame
        raise OfflineError(f"no source could serve {key.label()}: " + "; ".join(failures))

    def exchange_info(self) -> dict[str, Any]:
        """Exchange information of the first source that answers (named by ``exchange_info_source``)."""
        failures: list[str] = []
        for source in self.sources:
            try:
                info = source.exchange_info()
            except SourceUnavailableError as exc:
                failures.append(str(exc))
                continue
            self.exchange_info_source = source.name
            return info
        raise OfflineError("no source could serve exchangeInfo: " + "; ".join(failures))
