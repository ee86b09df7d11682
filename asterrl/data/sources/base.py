"""The interface every market-data source implements (Aster REST, Binance REST, files, synthetic)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from asterrl.data.schema import SeriesKey

#: Called after each page with (rows fetched so far, ms of the requested span covered so far).
ProgressCallback = Callable[[int, int], None]


@runtime_checkable
class MarketDataSource(Protocol):
    """Serves canonical frames (see ``asterrl.data.schema``) for a series over a time span."""

    name: str

    def fetch(
        self,
        key: SeriesKey,
        start_ms: int,
        end_ms: int,
        progress: ProgressCallback | None = None,
    ) -> pd.DataFrame:
        """Rows of ``key`` with ``start_ms <= timestamp < end_ms``, ascending, in the canonical schema.

        Bars still open at the time of the request are not returned.
        """
        ...

    def exchange_info(self) -> dict[str, Any]:
        """The venue's exchange information (symbols, filters, rate limits) as the venue returns it."""
        ...
