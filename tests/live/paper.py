"""A bridge trading a test artifact on the local exchange under a manual clock (paper mode, bar by bar)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from asterrl.data.sources.aster import AsterSource
from asterrl.exchange.client import AsterClient
from asterrl.exchange.local import LocalAsterServer, ManualClock
from asterrl.exchange.rest import ClientConfig, V3Credentials
from asterrl.exchange.signing import address_of
from asterrl.live.artifact import load_artifact
from asterrl.live.bridge import Bridge
from asterrl.live.config import load_deploy_config
from asterrl.live.store import StateStore
from asterrl.live.venue import Venue
from tests.exchange.venue import SIGNER_KEY, USER
from tests.exchange.venue import book_of as book

HOUR_S = 3600.0
REPO = Path(__file__).resolve().parents[2]


class Paper:
    """The local exchange, its clock, a bridge and what it needs."""

    def __init__(
        self, server: LocalAsterServer, clock: ManualClock, bridge: Bridge, client: AsterClient
    ) -> None:
        self.server, self.clock, self.bridge, self.client = server, clock, bridge, client

    async def settle_first(self) -> bool:
        """The decision on the bar that closed before the start, with its orders worked to the end."""
        decided = await self.bridge.on_bar(self.clock.ms())
        await self._work()
        return decided

    async def _work(self) -> None:
        for _ in range(20):
            if not self.bridge.worker.busy:
                break
            await self.bridge.tick(self.clock.ms())

    async def next_bar(self) -> bool:
        """Move the clock one bar on and let the bridge decide (and work its orders) on the closed bar."""
        self.clock.advance(HOUR_S)
        self.server.sync()
        await self.client.sync_time()
        decided = await self.bridge.on_bar(self.clock.ms())
        await self._work()
        return decided


@asynccontextmanager
async def paper(
    tmp_path: Path,
    artifact: Path,
    bars: pd.DataFrame,
    funding: pd.DataFrame | None,
    mark: pd.DataFrame | None,
    at_bar: int,
    *overrides: str,
    balance: float = 10_000.0,
    **server_kw: Any,
) -> Iterator[Paper]:  # type: ignore[misc]
    t0 = int(bars["timestamp"].iloc[0])
    clock = ManualClock((t0 + at_bar * 3_600_000) / 1000)
    server_kw.setdefault("nonce_window_ms", 3_600_000)
    with LocalAsterServer(book(bars, funding, mark), now_ms=clock.ms, **server_kw) as server:
        server.open_market("BTCUSDT", "1h")
        server.add_user(USER, balance, signers=[address_of(SIGNER_KEY)])
        cfg = load_deploy_config(
            [
                f"artifact={artifact}",
                f"base_url={server.base_url}",
                f"state_dir={tmp_path}",
                "execution.style=market",
                "history_bars=2000",
                *overrides,
            ]
        )
        client = AsterClient(
            ClientConfig(server.base_url, timeout_s=2.0, nonce_window_ms=3_600_000),
            V3Credentials(USER, SIGNER_KEY),
        )
        venue = Venue(client, "BTCUSDT", "1h", AsterSource(server.base_url))
        store = StateStore(cfg.state_path(), cfg.name())
        bridge = Bridge(cfg, load_artifact(artifact), venue, store, clock_ms=clock.ms)
        try:
            await bridge.start()
            yield Paper(server, clock, bridge, client)
        finally:
            await client.close()
            venue.history.close()
            store.close()


class SteppedClock:
    """A market clock that runs in real time and jumps forward when told (one bar at a time).

    Unlike a frozen manual clock it keeps moving while a bridge works, as an exchange's does, so nonces
    and the clients' clock offsets behave as against a real venue.

    :param start_ms: market time now, UTC ms.
    """

    def __init__(self, start_ms: int) -> None:
        self._offset = start_ms - time.time_ns() // 1_000_000

    def ms(self) -> int:
        return time.time_ns() // 1_000_000 + self._offset

    def jump_to(self, market_ms: int) -> None:
        """Set the market time to ``market_ms`` (forward only)."""
        self._offset = max(self._offset, market_ms - time.time_ns() // 1_000_000)


BRIDGE_ENV = {"ASTER_USER": USER, "ASTER_SIGNER_KEY": SIGNER_KEY}


def spawn_bridge(*settings: str, log: Path) -> subprocess.Popen[bytes]:
    """``asterrl deploy`` in a child process (keys from the environment), its JSON log in ``log``."""
    env = {**os.environ, **BRIDGE_ENV, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "experiments.cli", "deploy", *settings]
    handle = log.open("ab")
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=handle, stderr=handle)


def store_meta(db: Path, key: str) -> Any:
    """A meta value of a bridge's state store, read from another process (``None`` until it exists)."""
    try:
        with sqlite3.connect(db, timeout=30) as con:
            row = con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    except sqlite3.OperationalError:  # the bridge has not created its tables yet
        return None
    return None if row is None else json.loads(row[0])


def store_count(db: Path, table: str, where: str = "1") -> int:
    """Rows of a bridge's state table matching ``where`` (0 until the table exists)."""
    try:
        with sqlite3.connect(db, timeout=30) as con:
            return int(con.execute(f"SELECT COUNT(*) FROM {table} WHERE {where}").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def wait_for(condition: Any, timeout_s: float = 120.0, what: str = "condition",
             proc: subprocess.Popen[bytes] | None = None) -> None:  # fmt: skip
    """Poll ``condition()`` until true (failing after ``timeout_s``, or when ``proc`` died)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the bridge exited ({proc.returncode}) while waiting for {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
