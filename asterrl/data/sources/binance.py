"""Binance as the backup feed: USDⓈ-M futures (same payloads as Aster) and spot klines, plus
:class:`FallbackSource`, which serves a request from the first source in a list that can.
"""

from __future__ import annotations

import time

from asterrl.data.schema import Market
from asterrl.data.sources.aster import FUTURES_V1, BinanceShapedSource, VenueEndpoints
from asterrl.data.sources.http import (
    Clock,
    RequestWeightTracker,
    RestClient,
    RetryPolicy,
    Sleep,
)

BINANCE_FUTURES_URL = "https://fapi.binance.com"
BINANCE_SPOT_URL = "https://api.binance.com"

SPOT_V3 = VenueEndpoints(
    klines="/api/v3/klines",
    mark_klines=None,
    funding=None,
    exchange_info="/api/v3/exchangeInfo",
    time="/api/v3/time",
    kline_limit=1000,
    funding_limit=0,
)


class BinanceSource(BinanceShapedSource):
    """Binance USDⓈ-M perpetuals (klines, mark-price klines, funding) and spot klines, public REST.

    :param futures_url: USDⓈ-M futures REST host.
    :param spot_url: spot REST host (``market=spot`` keys).
    :param timeout_s: per-request connect/read timeout in seconds.
    :param retry: retry and backoff policy for 429/418/5xx and network errors.
    :param futures_weight_limit: USDⓈ-M request-weight limit per minute (2400).
    :param spot_weight_limit: spot request-weight limit per minute (6000).
    :param weight_budget_fraction: share of each limit to use before waiting for the next minute.
    :param sleep: blocking sleep in seconds (injectable for tests).
    :param clock: wall clock in seconds since the epoch (injectable for tests).
    """

    def __init__(
        self,
        futures_url: str = BINANCE_FUTURES_URL,
        spot_url: str = BINANCE_SPOT_URL,
        *,
        timeout_s: float = 10.0,
        retry: RetryPolicy | None = None,
        futures_weight_limit: int = 2400,
        spot_weight_limit: int = 6000,
        weight_budget_fraction: float = 0.8,
        sleep: Sleep = time.sleep,
        clock: Clock = time.time,
    ) -> None:
        def client(url: str, limit: int) -> RestClient:
            weights = RequestWeightTracker(limit, weight_budget_fraction, clock=clock, sleep=sleep)
            return RestClient("binance", url, timeout_s=timeout_s, retry=retry, weights=weights, sleep=sleep)

        super().__init__(
            "binance",
            {
                Market.PERP: (client(futures_url, futures_weight_limit), FUTURES_V1),
                Market.SPOT: (client(spot_url, spot_weight_limit), SPOT_V3),
            },
        )
