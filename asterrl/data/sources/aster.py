"""Aster perpetual-futures public REST as a :class:`~asterrl.data.sources.base.MarketDataSource`.

Aster's market-data endpoints are shaped like Binance USDⓈ-M Futures (reference §7, §9), so the paging and
parsing here serve both venues: :class:`BinanceShapedSource` does the work and :class:`AsterSource` and
:class:`~asterrl.data.sources.binance.BinanceSource` only name their hosts and paths.

Paging walks ``startTime`` forward from the start of the span with the largest page the endpoint allows,
drops rows outside ``[start_ms, end_ms)`` and rows already seen, and stops at a short page, at the end of
the span, or at the first bar still open at the server's time (``closeTime >= serverTime``, from one
``/time`` call per fetch). The same span
therefore always yields the same rows, which is what makes a second write of it to the store a no-op.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import pandas as pd

from asterrl.data.schema import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, DataKind, Market, SeriesKey
from asterrl.data.sources.base import ProgressCallback
from asterrl.data.sources.http import (
    Clock,
    RequestWeightTracker,
    RestClient,
    RetryPolicy,
    Sleep,
    kline_weight,
)
from asterrl.errors import SourceError

ASTER_FUTURES_URL = "https://fapi.asterdex.com"
_MINUTE_MS = 60_000


@dataclass(frozen=True, slots=True)
class VenueEndpoints:
    """Paths and page sizes of one Binance-shaped REST API (futures ``/fapi/v1`` or spot ``/api/v3``).

    :param kline_limit: most klines one request returns (1500 on futures, 1000 on spot).
    :param funding_limit: most funding rows one request returns (1000 on futures).
    """

    klines: str
    mark_klines: str | None
    funding: str | None
    exchange_info: str
    time: str
    kline_limit: int
    funding_limit: int


FUTURES_V1 = VenueEndpoints(
    klines="/fapi/v1/klines",
    mark_klines="/fapi/v1/markPriceKlines",
    funding="/fapi/v1/fundingRate",
    exchange_info="/fapi/v1/exchangeInfo",
    time="/fapi/v1/time",
    kline_limit=1500,
    funding_limit=1000,
)


class BinanceShapedSource:
    """Fetches klines, mark-price klines and funding history from Binance-shaped REST APIs.

    :param name: source name recorded in ``frame.attrs["source"]`` and in error messages.
    :param venues: for each market served, the REST client and its endpoint paths.
    """

    def __init__(self, name: str, venues: Mapping[Market, tuple[RestClient, VenueEndpoints]]) -> None:
        self.name = name
        self._venues = dict(venues)

    # -- MarketDataSource -------------------------------------------------------------------------------

    def fetch(
        self,
        key: SeriesKey,
        start_ms: int,
        end_ms: int,
        progress: ProgressCallback | None = None,
    ) -> pd.DataFrame:
        """Closed rows of ``key`` with ``start_ms <= timestamp < end_ms`` (UTC ms), ascending, canonical."""
        client, paths = self._venue(key.market)
        if end_ms <= start_ms:
            return _frame(key.kind, [], self.name)
        if key.kind is DataKind.FUNDING:
            if paths.funding is None:
                raise SourceError(f"{self.name}: no funding history for {key.label()}")
            limit = paths.funding_limit
            rows = self._funding_rows(client, paths.funding, limit, key, start_ms, end_ms, progress)
        else:
            path = paths.klines if key.kind is DataKind.OHLCV else paths.mark_klines
            if path is None:
                raise SourceError(f"{self.name}: no {key.kind.value} series for {key.label()}")
            server_ms = self.server_time_ms(key.market)
            limit = paths.kline_limit
            rows = self._kline_rows(client, path, limit, key, start_ms, end_ms, server_ms, progress)
        return _frame(key.kind, rows, self.name)

    def exchange_info(self) -> dict[str, Any]:
        """The venue's futures (else spot) ``exchangeInfo`` as returned."""
        market = Market.PERP if Market.PERP in self._venues else next(iter(self._venues))
        client, paths = self._venues[market]
        info = client.get(paths.exchange_info, None, weight=1, what="exchangeInfo")
        if not isinstance(info, dict):
            raise SourceError(f"{self.name}: exchangeInfo ({paths.exchange_info}) is not a JSON object")
        return info

    # -- helpers ----------------------------------------------------------------------------------------

    def server_time_ms(self, market: Market = Market.PERP) -> int:
        """The venue's clock (UTC ms) from its ``/time`` endpoint."""
        client, paths = self._venue(market)
        body = client.get(paths.time, None, weight=1, what="server time")
        try:
            return int(body["serverTime"])
        except (KeyError, TypeError, ValueError):
            raise SourceError(f"{self.name}: server time ({paths.time}) has no serverTime field") from None

    def close(self) -> None:
        """Close every connection pool."""
        for client, _ in self._venues.values():
            client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _venue(self, market: Market) -> tuple[RestClient, VenueEndpoints]:
        try:
            return self._venues[market]
        except KeyError:
            served = ", ".join(m.value for m in self._venues)
            raise SourceError(f"{self.name}: {market.value} market not served (serves: {served})") from None

    def _kline_rows(
        self,
        client: RestClient,
        path: str,
        limit: int,
        key: SeriesKey,
        start_ms: int,
        end_ms: int,
        server_ms: int,
        progress: ProgressCallback | None,
    ) -> list[list[Any]]:
        step_ms = key.interval_ms or 1
        what = f"{key.kind.value} klines for {key.symbol} {key.interval}"
        rows: list[list[Any]] = []
        last_open = -1
        cursor = start_ms
        while cursor < end_ms:
            params: dict[str, str | int] = {
                "symbol": key.symbol,
                "interval": str(key.interval),
                "startTime": cursor,
                "endTime": end_ms - 1,
                "limit": limit,
            }
            page = client.get(path, params, weight=kline_weight(limit), what=what)
            if not isinstance(page, list):
                raise SourceError(f"{self.name}: {what} ({path}) answered {type(page).__name__}, not a list")
            if not page:
                break
            reached_open_bar = False
            try:
                for row in page:
                    open_ms, close_ms = int(row[0]), int(row[6])
                    if close_ms >= server_ms:
                        reached_open_bar = True
                        break
                    if start_ms <= open_ms < end_ms and open_ms > last_open:
                        rows.append(row)
                        last_open = open_ms
                page_last = int(page[-1][0])
            except (TypeError, ValueError, IndexError):
                raise SourceError(f"{self.name}: {what} ({path}) returned a malformed kline row") from None
            if progress is not None:
                progress(len(rows), min(max(page_last + step_ms, start_ms), end_ms) - start_ms)
            if reached_open_bar or len(page) < limit or page_last + step_ms >= end_ms or page_last < cursor:
                break
            cursor = page_last + 1
        return rows

    def _funding_rows(
        self,
        client: RestClient,
        path: str,
        limit: int,
        key: SeriesKey,
        start_ms: int,
        end_ms: int,
        progress: ProgressCallback | None,
    ) -> list[list[Any]]:
        what = f"funding history for {key.symbol}"
        rows: list[list[Any]] = []
        last_ts = -1
        cursor = start_ms
        while cursor < end_ms:
            params: dict[str, str | int] = {
                "symbol": key.symbol,
                "startTime": cursor,
                "endTime": end_ms - 1,
                "limit": limit,
            }
            page = client.get(path, params, weight=1, what=what)
            if not isinstance(page, list):
                raise SourceError(f"{self.name}: {what} ({path}) answered {type(page).__name__}, not a list")
            if not page:
                break
            try:
                for item in page:
                    ts = funding_timestamp(int(item["fundingTime"]))
                    if start_ms <= ts < end_ms and ts > last_ts:
                        rows.append([ts, float(item["fundingRate"])])
                        last_ts = ts
                page_last = int(page[-1]["fundingTime"])
            except (TypeError, ValueError, KeyError):
                raise SourceError(f"{self.name}: {what} ({path}) returned a malformed funding row") from None
            if progress is not None:
                progress(len(rows), min(max(page_last + 1, start_ms), end_ms) - start_ms)
            if len(page) < limit or page_last + 1 >= end_ms or page_last < cursor:
                break
            cursor = page_last + 1
        return rows


class AsterSource(BinanceShapedSource):
    """Aster USDT-margined perpetuals over the public V1 REST API (no key needed).

    :param base_url: futures REST host; tests point it at a local server.
    :param timeout_s: per-request connect/read timeout in seconds.
    :param retry: retry and backoff policy for 429/418/5xx and network errors.
    :param weight_limit: the venue's request-weight limit per minute (2400).
    :param weight_budget_fraction: share of that limit to use before waiting for the next minute.
    :param sleep: blocking sleep in seconds (injectable for tests).
    :param clock: wall clock in seconds since the epoch (injectable for tests).
    """

    def __init__(
        self,
        base_url: str = ASTER_FUTURES_URL,
        *,
        timeout_s: float = 10.0,
        retry: RetryPolicy | None = None,
        weight_limit: int = 2400,
        weight_budget_fraction: float = 0.8,
        sleep: Sleep = time.sleep,
        clock: Clock = time.time,
    ) -> None:
        weights = RequestWeightTracker(weight_limit, weight_budget_fraction, clock=clock, sleep=sleep)
        client = RestClient("aster", base_url, timeout_s=timeout_s, retry=retry, weights=weights, sleep=sleep)
        super().__init__("aster", {Market.PERP: (client, FUTURES_V1)})


def funding_timestamp(funding_time_ms: int) -> int:
    """Funding settlement time rounded to the nearest minute (UTC ms).

    Venues stamp settlements with a few ms of jitter (``...000003``); rounding puts every source and the
    shared dataset on the same grid, so the store's upsert by timestamp matches them.
    """
    return (funding_time_ms + _MINUTE_MS // 2) // _MINUTE_MS * _MINUTE_MS


def _frame(kind: DataKind, rows: list[list[Any]], source: str) -> pd.DataFrame:
    """Canonical frame from kline arrays (``[open_time, o, h, l, c, v, close_time, qv, n, tbv, ...]``) or
    ``[timestamp, funding_rate]`` rows."""
    columns = REQUIRED_COLUMNS[kind] + OPTIONAL_COLUMNS[kind]
    data: dict[str, np.ndarray[Any, Any]] = {}
    try:
        data["timestamp"] = np.array([int(r[0]) for r in rows], dtype=np.int64)
        if kind is DataKind.FUNDING:
            data["funding_rate"] = np.array([float(r[1]) for r in rows], dtype=np.float64)
        else:
            for i, col in enumerate(REQUIRED_COLUMNS[kind][1:5], start=1):
                data[col] = np.array([float(r[i]) for r in rows], dtype=np.float64)
            if kind is DataKind.OHLCV:
                data["volume"] = np.array([float(r[5]) for r in rows], dtype=np.float64)
                data["quote_volume"] = np.array([float(r[7]) for r in rows], dtype=np.float64)
                data["trades"] = np.array([int(r[8]) for r in rows], dtype=np.int64)
                data["taker_buy_volume"] = np.array([float(r[9]) for r in rows], dtype=np.float64)
    except (TypeError, ValueError, IndexError):
        raise SourceError(f"{source}: a {kind.value} row has a field that is not a number") from None
    frame = pd.DataFrame({col: data[col] for col in columns})
    frame.attrs["source"] = source
    return frame
