"""Shared set-up of the exchange tests: bars, a local exchange with accounts, a client, a bounded run."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from asterrl.exchange.client import AsterClient
from asterrl.exchange.local import LocalAsterServer, ManualClock, MarketDataBook, SymbolSpec
from asterrl.exchange.rest import ClientConfig, V1Credentials, V3Credentials
from asterrl.exchange.signing import address_of
from asterrl.sim.config import CostConfig

H = 3_600_000
T0 = 1_700_006_400_000  # 2023-11-15 00:00 UTC, on the hourly and 8-hourly grids

#: The docs' public demo key and user (reference §4.2), and a second agent the user never authorised.
SIGNER_KEY = "0x4fd0a42218f3eae43a6ce26d22544e986139a01e5b34a62db53757ffca81bae1"
USER = "0x63DD5aCC6b1aa0f563956C0e534DD30B6dcF7C4e"
STRANGER_KEY = "0x" + "11" * 32
V1_KEY, V1_SECRET = "local-test-api-key", "local-test-secret-0123456789abcdef"
V1_USER = "v1-trader"

T = TypeVar("T")


def flat_bars(n: int, price: float = 30_000.0, volume: float = 1_000.0) -> pd.DataFrame:
    """Hourly bars from ``T0``: open 30000 + 10k, high +100, low -100, close +10, continuous opens."""
    k = np.arange(n, dtype=np.float64)
    opens = price + 10.0 * k
    return pd.DataFrame(
        {
            "timestamp": T0 + H * np.arange(n, dtype=np.int64),
            "open": opens,
            "high": opens + 100.0,
            "low": opens - 100.0,
            "close": opens + 10.0,
            "volume": volume,
            "quote_volume": volume * opens,
        }
    )


def book_of(
    bars: pd.DataFrame, funding: pd.DataFrame | None = None, mark: pd.DataFrame | None = None
) -> MarketDataBook:
    book = MarketDataBook()
    book.add_symbol(SymbolSpec("BTCUSDT", "BTC"))
    book.add_bars("BTCUSDT", "1h", bars)
    if funding is not None:
        book.add_funding("BTCUSDT", funding)
    if mark is not None:
        book.add_mark("BTCUSDT", "1h", mark)
    return book


@contextmanager
def local_exchange(
    bars: pd.DataFrame | None = None,
    *,
    funding: pd.DataFrame | None = None,
    mark: pd.DataFrame | None = None,
    at_bar: int = 5,
    balance: float = 10_000.0,
    costs: CostConfig | None = None,
    clock: Any = None,
    **server: Any,
) -> Iterator[tuple[LocalAsterServer, ManualClock]]:
    """A running local exchange trading BTCUSDT with the demo V3 user and a V1 user; the manual clock
    stands at the open of bar ``at_bar``."""
    bars = flat_bars(40) if bars is None else bars
    clock = clock or ManualClock((T0 + at_bar * H) / 1000)
    server.setdefault("nonce_window_ms", 3_600_000)
    with LocalAsterServer(book_of(bars, funding, mark), now_ms=clock.ms, costs=costs, **server) as srv:
        srv.open_market("BTCUSDT", "1h")
        srv.add_user(USER, balance, signers=[address_of(SIGNER_KEY)])
        srv.add_user(V1_USER, balance, api_keys={V1_KEY: V1_SECRET})
        yield srv, clock


def client_for(server: LocalAsterServer, v1: bool = False, **config: Any) -> AsterClient:
    credentials = V1Credentials(V1_KEY, V1_SECRET) if v1 else V3Credentials(USER, SIGNER_KEY)
    config.setdefault("timeout_s", 2.0)
    config.setdefault("nonce_window_ms", server.auth.nonce_window_ms)
    return AsterClient(ClientConfig(server.base_url, **config), credentials)


def run(scenario: Callable[[], Awaitable[T]], timeout_s: float = 60.0) -> T:
    """Run an async scenario to completion, failing (not hanging) after ``timeout_s``."""

    async def bounded() -> T:
        return await asyncio.wait_for(scenario(), timeout_s)

    return asyncio.run(bounded())


async def ready_client(server: LocalAsterServer, v1: bool = False, **config: Any) -> AsterClient:
    """A client with its clock synced and the instruments loaded."""
    client = client_for(server, v1, **config)
    await client.sync_time()
    await client.load_instruments()
    await client.premium_index("BTCUSDT")
    return client


async def in_thread(fn: Callable[[], T]) -> T:
    """Call a blocking server control (``sync``, ``disconnect_streams``...) without blocking the loop."""
    return await asyncio.to_thread(fn)


async def eventually(check: Callable[[], bool], timeout_s: float = 10.0, what: str = "condition") -> None:
    """Wait until ``check()`` holds (polling; generous, since the test box may be busy)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"{what} did not hold within {timeout_s:g} s")
        await asyncio.sleep(0.02)
