"""The SQLite state store: WAL, order intents that survive kill -9, transitions, commands, experience."""

from __future__ import annotations

import sqlite3
import textwrap
from pathlib import Path

import numpy as np
import pytest

from asterrl.errors import LiveError
from asterrl.live.experience import read_experience
from asterrl.live.store import DecisionRecord, OrderRecord, StateStore
from tests.processes import kill_when_started


def _order(cid: str, bar: int = 1000, leg: int = 0, status: str = "PENDING") -> OrderRecord:
    return OrderRecord(cid, bar, leg, 0, "BUY", "LIMIT", "GTX", 0.5, 100.0, False, status, 100.0, 5, 5)


def test_the_store_is_in_wal_mode_and_belongs_to_one_run(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.sqlite", "run-a")
    mode = sqlite3.connect(tmp_path / "s.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    store.close()
    with pytest.raises(LiveError, match="belongs to run 'run-a', not 'run-b'"):
        StateStore(tmp_path / "s.sqlite", "run-b")


def test_an_intent_is_recorded_once_and_its_transitions_in_order(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.sqlite", "r")
    assert store.record_intent(_order("a1-x-0-0"))
    assert not store.record_intent(_order("a1-x-0-0"))  # the same id again: nothing written
    store.update_order("a1-x-0-0", "NEW", 10, exchange_order_id=77, sent_ms=9)
    store.update_order("a1-x-0-0", "PARTIALLY_FILLED", 11, filled_qty=0.2, avg_price=99.5)
    store.update_order("a1-x-0-0", "FILLED", 12, filled_qty=0.5, avg_price=99.7)
    assert [e[2] for e in store.order_events("a1-x-0-0")] == ["PENDING", "NEW", "PARTIALLY_FILLED", "FILLED"]
    order = store.order("a1-x-0-0")
    assert (
        order is not None
        and order.exchange_order_id == 77
        and order.filled_qty == 0.5
        and order.remaining == 0
    )
    assert store.live_orders() == [] and len(store.all_orders()) == 1
    assert store.orders_sent_since(9) == 1 and store.orders_sent_since(10) == 0
    assert store.record_fill(5, "a1-x-0-0", 11, 0.2, 99.5, 0.01, 0.0, True)
    assert not store.record_fill(5, "a1-x-0-0", 11, 0.2, 99.5, 0.01, 0.0, True)  # a duplicated event
    assert len(store.fills()) == 1


def test_an_intent_committed_before_kill_9_is_there_after_restart(tmp_path: Path) -> None:
    db, marker = tmp_path / "s.sqlite", tmp_path / "written"
    kill_when_started(
        textwrap.dedent(f"""
        import time
        from pathlib import Path
        from asterrl.live.store import OrderRecord, StateStore
        store = StateStore({str(db)!r}, "r")
        for n in range(3):
            store.record_intent(OrderRecord(f"a1-x-{{n}}-0", 1000, n, 0, "SELL", "MARKET", None, 1.0, None,
                                            True, "PENDING", 100.0, 5, 5))
        Path({str(marker)!r}).write_text("1")
        time.sleep(60)
        """),
        marker,
    )
    store = StateStore(db, "r")
    assert [o.client_order_id for o in store.live_orders()] == ["a1-x-0-0", "a1-x-1-0", "a1-x-2-0"]
    assert all(o.reduce_only and o.status == "PENDING" for o in store.live_orders())


def test_commands_from_another_process_are_taken_once(tmp_path: Path) -> None:
    bridge = StateStore(tmp_path / "s.sqlite", "r")
    operator = StateStore(tmp_path / "s.sqlite")
    operator.push_command("stop", "cli")
    operator.push_command("flatten", "http")
    assert [c[1:] for c in bridge.take_commands()] == [("stop", "cli"), ("flatten", "http")]
    assert bridge.take_commands() == []


def test_experience_reads_back_the_settled_decisions(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.sqlite", "r")
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(5, 9)).astype(np.float32)
    equity = [1000.0, 1010.0, 1005.0, 1020.0, 1020.0, 1030.0]
    for i in range(5):
        row = (1000 * i, 1000 * i + 1, obs[i].tobytes(), float(i % 3), 0.1 * i, 0.05 * i, 0.0, equity[i])
        store.record_decision(DecisionRecord(*row, 100.0, 0, "RUNNING", 250.0))
    for i in range(4):  # the last decision's next bar has not closed: not settled, not read back
        store.settle_decision(
            1000 * i, 0.05, 5.0, 0.002, equity[i + 1], float(np.log(equity[i + 1] / equity[i]))
        )
    exp = read_experience(tmp_path / "s.sqlite")
    assert len(exp) == 4
    np.testing.assert_array_equal(exp.observations, obs[:4])
    np.testing.assert_array_equal(exp.actions, [0.0, 1.0, 2.0, 0.0])
    np.testing.assert_allclose(exp.gated_qty, [0.0, 0.05, 0.1, 0.15])
    np.testing.assert_allclose(exp.rewards, np.log(np.array(equity[1:5]) / np.array(equity[:4])))
    assert exp.rewards[1] == pytest.approx(np.log(1005 / 1010))
