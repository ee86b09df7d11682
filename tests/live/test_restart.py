"""kill -9 while an order is in flight, then restart: no duplicate order, no position lost."""

from __future__ import annotations

import os
import signal
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from asterrl.exchange.local import LocalAsterServer
from asterrl.exchange.signing import address_of
from tests.envs.market import HOUR, T0, synthetic_market
from tests.live.artifacts import linear_artifact
from tests.live.paper import (
    SIGNER_KEY,
    USER,
    SteppedClock,
    book,
    spawn_bridge,
    store_count,
    store_meta,
    wait_for,
)

LIVE = "status IN ('PENDING', 'NEW', 'PARTIALLY_FILLED', 'UNKNOWN')"


def _settled(db: Path, bar_ms: int) -> bool:
    """The bridge decided on ``bar_ms``, its orders are done and its post-trade check is made."""
    return store_meta(db, "settled_bar_ms") == bar_ms and store_count(db, "orders", LIVE) == 0


@pytest.mark.slow
def test_kill_9_while_an_order_is_in_flight_then_restart(tmp_path: Path) -> None:
    bars, funding, mark = synthetic_market(500, seed=3)
    art = linear_artifact(tmp_path / "art", window=8, momentum=True)  # trades on most bars
    start = 300
    clock = SteppedClock(T0 + (start + 1) * HOUR + 1_000)
    db, log = tmp_path / "paper.sqlite", tmp_path / "bridge.log"
    server = LocalAsterServer(book(bars, funding, mark), now_ms=clock.ms, weight_limit=10**9)
    with server:
        server.open_market("BTCUSDT", "1h")
        server.add_user(USER, 10_000.0, signers=[address_of(SIGNER_KEY)])
        account = server.exchange.accounts[USER.lower()]
        settings = [f"artifact={art}", f"base_url={server.base_url}", f"state_dir={tmp_path}", "run_id=paper",
                    "execution.style=market", "clock=exchange", "history_bars=2000"]  # fmt: skip
        proc = spawn_bridge(*settings, log=log)
        kills, armed = 0, False
        try:
            for i in range(14):
                bar_ms = T0 + (start + i) * HOUR
                if i in (3, 8) and not armed:  # the next order is accepted, but its answer never comes
                    armed = True
                    server.inject(0, path="/fapi/v3/order", method="POST", process=True, delay_s=1.5)
                if i:
                    clock.jump_to(bar_ms + HOUR + 1_000)
                    server.sync()
                if armed:
                    before, queued = len(account.orders), server.pending_faults
                    held = lambda: server.pending_faults < queued  # noqa: B023, E731
                    wait_for(lambda: held() or _settled(db, bar_ms), what="an order in flight", proc=proc)  # noqa: B023
                    if held():  # the exchange holds the request: kill -9 now
                        os.kill(proc.pid, signal.SIGKILL)
                        assert proc.wait(30) == -signal.SIGKILL
                        kills, armed = kills + 1, False
                        wait_for(lambda: len(account.orders) > before, what="the order accepted")  # noqa: B023
                        proc = spawn_bridge(*settings, log=log)
                wait_for(lambda: _settled(db, bar_ms), what=f"bar {i} settled", proc=proc)  # noqa: B023
            assert kills == 2
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
        ids = Counter(o.client_order_id for o in account.orders.values())
        assert ids and max(ids.values()) == 1  # no client order id reached the exchange twice
        with sqlite3.connect(db) as con:
            rows = con.execute("SELECT client_order_id FROM orders WHERE status NOT IN ('LOST', 'REJECTED')")
            stored = {r[0] for r in rows}
            last_qty = con.execute("SELECT position_qty FROM account ORDER BY id DESC LIMIT 1").fetchone()[0]
        assert set(ids) == stored  # every order on the exchange is known to the store, and no other
        assert last_qty == pytest.approx(account.position("BTCUSDT").qty, abs=1e-12)
        text = log.read_text()
        assert text.count('"event": "start"') == 3  # the first start and two restarts
        assert text.count('"event": "order_resolved"') >= 2  # each order left in flight, settled by its id
