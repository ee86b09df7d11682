"""The deployment's state in SQLite (WAL): decisions, orders and their transitions, fills, account snapshots,
funding, risk events, operator commands, and a small key-value table for the bridge's own state.

Every order is recorded *before* it is sent (status ``PENDING``), under its deterministic client order id
(the primary key): a process killed between the write and the send, or after the send but before the
answer, finds the intent on restart and resolves it by querying that id, never by sending again. Writes
commit at once (WAL, ``synchronous=NORMAL``: a killed process loses nothing it committed); other processes
(``asterrl deploy status``/``stop``) read and write the same file concurrently.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from asterrl.errors import LiveError

#: Order states that may still change on the exchange (or whose fate is not yet known).
LIVE_STATUSES = ("PENDING", "NEW", "PARTIALLY_FILLED", "UNKNOWN")
#: Final order states.
FINAL_STATUSES = ("FILLED", "CANCELED", "EXPIRED", "REJECTED", "LOST")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS decisions (
    bar_ms INTEGER PRIMARY KEY, decided_ms INTEGER NOT NULL, observation BLOB NOT NULL, action REAL NOT NULL,
    target_qty REAL NOT NULL, gated_qty REAL NOT NULL, position_qty REAL NOT NULL, equity REAL NOT NULL,
    mark_price REAL NOT NULL, flags INTEGER NOT NULL, state TEXT NOT NULL, latency_us REAL NOT NULL,
    fill_qty REAL NOT NULL DEFAULT 0, fill_notional REAL NOT NULL DEFAULT 0, fees REAL NOT NULL DEFAULT 0,
    reward REAL, next_equity REAL);
CREATE TABLE IF NOT EXISTS orders (
    client_order_id TEXT PRIMARY KEY, bar_ms INTEGER NOT NULL, leg INTEGER NOT NULL, attempt INTEGER NOT NULL,
    side TEXT NOT NULL, type TEXT NOT NULL, time_in_force TEXT, qty REAL NOT NULL, price REAL,
    reduce_only INTEGER NOT NULL, status TEXT NOT NULL, exchange_order_id INTEGER,
    filled_qty REAL NOT NULL DEFAULT 0, avg_price REAL NOT NULL DEFAULT 0, reference_price REAL NOT NULL,
    created_ms INTEGER NOT NULL, sent_ms INTEGER, updated_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS orders_status ON orders (status);
CREATE INDEX IF NOT EXISTS orders_sent ON orders (sent_ms);
CREATE TABLE IF NOT EXISTS order_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, client_order_id TEXT NOT NULL, ts_ms INTEGER NOT NULL,
    status TEXT NOT NULL, detail TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fills (
    trade_id INTEGER PRIMARY KEY, client_order_id TEXT NOT NULL, ts_ms INTEGER NOT NULL, qty REAL NOT NULL,
    price REAL NOT NULL, fee REAL NOT NULL, realized_pnl REAL NOT NULL, maker INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS fills_time ON fills (ts_ms);
CREATE TABLE IF NOT EXISTS account (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts_ms INTEGER NOT NULL, position_qty REAL NOT NULL,
    entry_price REAL NOT NULL, wallet REAL NOT NULL, equity REAL NOT NULL, source TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS funding (
    tran_id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, amount REAL NOT NULL);
CREATE TABLE IF NOT EXISTS risk_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts_ms INTEGER NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL,
    state_from TEXT NOT NULL, state_to TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS commands (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts_ms INTEGER NOT NULL, command TEXT NOT NULL, source TEXT NOT NULL,
    taken_ms INTEGER);
"""


def now_ms() -> int:
    """Wall clock, ms UTC."""
    return time.time_ns() // 1_000_000


@dataclass
class OrderRecord:
    """One order of the deployment as the store keeps it (quantities in base asset, prices in USDT)."""

    client_order_id: str
    bar_ms: int
    leg: int
    attempt: int
    side: str
    type: str
    time_in_force: str | None
    qty: float
    price: float | None
    reduce_only: bool
    status: str
    reference_price: float
    created_ms: int
    updated_ms: int
    exchange_order_id: int | None = None
    filled_qty: float = 0.0
    avg_price: float = 0.0
    sent_ms: int | None = None

    @property
    def sign(self) -> int:
        return 1 if self.side == "BUY" else -1

    @property
    def remaining(self) -> float:
        return max(self.qty - self.filled_qty, 0.0)


@dataclass
class DecisionRecord:
    """One decision: what the policy saw and wanted, what the gate allowed, and how long it took."""

    bar_ms: int
    decided_ms: int
    observation: bytes
    action: float
    target_qty: float
    gated_qty: float
    position_qty: float
    equity: float
    mark_price: float
    flags: int
    state: str
    latency_us: float


class StateStore:
    """The SQLite state file of one deployment.

    :param path: the database file (created with its folder when missing).
    :param run_id: the deployment's id; a file written by another run is refused.
    """

    def __init__(self, path: str | Path, run_id: str | None = None) -> None:
        self.path = Path(path).expanduser()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                str(self.path), isolation_level=None, timeout=30.0, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise LiveError(f"state store {self.path}: cannot open ({exc})") from None
        if run_id is not None:
            stored = self.get_meta("run_id")
            if stored is None:
                self.set_meta("run_id", run_id)
            elif stored != run_id:
                raise LiveError(f"state store {self.path} belongs to run {stored!r}, not {run_id!r}")
        self.run_id = self.get_meta("run_id")

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Several writes that land together or not at all."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- meta: the bridge's own state (JSON values) ----------------------------------------------------

    def get_meta(self, key: str, default: Any = None) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def set_meta(self, key: str, value: Any) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(value)),
        )

    # -- orders ----------------------------------------------------------------------------------------

    def record_intent(self, order: OrderRecord) -> bool:
        """Record an order before it is sent; ``False`` (nothing written) if its id is already known."""
        values = asdict(order)
        values["reduce_only"] = int(order.reduce_only)
        names = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        with self.transaction() as db:
            cur = db.execute(
                f"INSERT OR IGNORE INTO orders ({names}) VALUES ({marks})", tuple(values.values())
            )
            if cur.rowcount == 0:
                return False
            db.execute(
                "INSERT INTO order_events (client_order_id, ts_ms, status, detail) VALUES (?, ?, ?, ?)",
                (order.client_order_id, order.created_ms, order.status, "intent"),
            )
        return True

    def update_order(self, cid: str, status: str, ts_ms: int, detail: str = "", **changes: Any) -> None:
        """Move order ``cid`` to ``status`` (with its fill state or exchange id) and log the transition."""
        allowed = {"exchange_order_id", "filled_qty", "avg_price", "sent_ms"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"cannot update order field(s) {sorted(unknown)}")
        sets = ", ".join(f"{k} = ?" for k in changes)
        with self.transaction() as db:
            row = db.execute("SELECT status FROM orders WHERE client_order_id = ?", (cid,)).fetchone()
            if row is None:
                raise LiveError(f"state store: no order {cid}")
            extra = f", {sets}" if sets else ""
            db.execute(
                f"UPDATE orders SET status = ?, updated_ms = ?{extra} WHERE client_order_id = ?",
                (status, ts_ms, *changes.values(), cid),
            )
            if row[0] != status or detail:
                db.execute(
                    "INSERT INTO order_events (client_order_id, ts_ms, status, detail) VALUES (?, ?, ?, ?)",
                    (cid, ts_ms, status, detail or f"{row[0]} -> {status}"),
                )

    def order(self, cid: str) -> OrderRecord | None:
        rows = self._orders("WHERE client_order_id = ?", (cid,))
        return rows[0] if rows else None

    def live_orders(self) -> list[OrderRecord]:
        """Orders that may still change (pending, open, or of unknown fate), oldest first."""
        marks = ", ".join("?" for _ in LIVE_STATUSES)
        return self._orders(f"WHERE status IN ({marks}) ORDER BY created_ms, client_order_id", LIVE_STATUSES)

    def order_by_exchange_id(self, exchange_order_id: int) -> OrderRecord | None:
        rows = self._orders("WHERE exchange_order_id = ?", (exchange_order_id,))
        return rows[0] if rows else None

    def orders_of_bar(self, bar_ms: int) -> list[OrderRecord]:
        return self._orders("WHERE bar_ms = ? ORDER BY leg, attempt", (bar_ms,))

    def orders_sent_since(self, since_ms: int) -> int:
        """Orders sent at or after ``since_ms`` (the order-rate limit's count)."""
        row = self._db.execute("SELECT COUNT(*) FROM orders WHERE sent_ms >= ?", (since_ms,)).fetchone()
        return int(row[0])

    def all_orders(self) -> list[OrderRecord]:
        return self._orders("ORDER BY created_ms, client_order_id", ())

    def order_events(self, cid: str | None = None) -> list[tuple[str, int, str, str]]:
        """``(client_order_id, ts_ms, status, detail)`` transitions, in order."""
        query = "SELECT client_order_id, ts_ms, status, detail FROM order_events"
        rows = self._db.execute(query + (" WHERE client_order_id = ?" if cid else "") + " ORDER BY id",
                                (cid,) if cid else ()).fetchall()  # fmt: skip
        return [tuple(r) for r in rows]

    def _orders(self, where: str, args: tuple[Any, ...]) -> list[OrderRecord]:
        names = [f.name for f in fields(OrderRecord)]
        rows = self._db.execute(f"SELECT {', '.join(names)} FROM orders {where}", args).fetchall()
        out = []
        for row in rows:
            values = dict(zip(names, row, strict=True))
            values["reduce_only"] = bool(values["reduce_only"])
            out.append(OrderRecord(**values))
        return out

    # -- fills, account, funding -----------------------------------------------------------------------

    def record_fill(
        self, trade_id: int, cid: str, ts_ms: int, qty: float, price: float, fee: float, realized_pnl: float,
        maker: bool,
    ) -> bool:  # fmt: skip
        """Record a fill (signed ``qty``); ``False`` when the trade id was already recorded (a duplicate)."""
        cur = self._db.execute(
            "INSERT OR IGNORE INTO fills VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (trade_id, cid, ts_ms, qty, price, fee, realized_pnl, int(maker)),
        )
        return cur.rowcount == 1

    def last_trade_id(self) -> int | None:
        row = self._db.execute("SELECT MAX(trade_id) FROM fills").fetchone()
        return None if row[0] is None else int(row[0])

    def fills_since(self, trade_id: int) -> list[tuple[int, str, int, float, float, float, float, bool]]:
        rows = self._db.execute("SELECT * FROM fills WHERE trade_id > ? ORDER BY trade_id", (trade_id,))
        return [(*r[:7], bool(r[7])) for r in rows.fetchall()]

    def fill_count_since(self, ts_ms: int) -> int:
        """Fills at or after ``ts_ms``."""
        return int(self._db.execute("SELECT COUNT(*) FROM fills WHERE ts_ms >= ?", (ts_ms,)).fetchone()[0])

    def last_funding_ms(self) -> int | None:
        row = self._db.execute("SELECT MAX(ts_ms) FROM funding").fetchone()
        return None if row[0] is None else int(row[0])

    def fills(
        self, cid: str | None = None, since_ms: int | None = None
    ) -> list[tuple[int, str, int, float, float, float, float, bool]]:
        """Fills (of one order, or at or after ``since_ms``), in time order."""
        where, args = ("client_order_id = ?", (cid,)) if cid else ("ts_ms >= ?", (since_ms or 0,))
        query = f"SELECT * FROM fills WHERE {where} ORDER BY ts_ms, trade_id"
        return [(*r[:7], bool(r[7])) for r in self._db.execute(query, args).fetchall()]

    def decided_on(self, bar_ms: int) -> bool:
        """Whether a decision on ``bar_ms`` is recorded."""
        return self._db.execute("SELECT 1 FROM decisions WHERE bar_ms = ?", (bar_ms,)).fetchone() is not None

    def record_account(
        self, ts_ms: int, position_qty: float, entry_price: float, wallet: float, equity: float, source: str
    ) -> None:
        self._db.execute(
            "INSERT INTO account (ts_ms, position_qty, entry_price, wallet, equity, source) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (ts_ms, position_qty, entry_price, wallet, equity, source),
        )

    def last_account(self) -> tuple[int, float, float, float, float, str] | None:
        row = self._db.execute(
            "SELECT ts_ms, position_qty, entry_price, wallet, equity, source FROM account "
            "ORDER BY id DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        return int(row[0]), float(row[1]), float(row[2]), float(row[3]), float(row[4]), str(row[5])

    def record_funding(self, tran_id: int, ts_ms: int, amount: float) -> bool:
        cur = self._db.execute("INSERT OR IGNORE INTO funding VALUES (?, ?, ?)", (tran_id, ts_ms, amount))
        return cur.rowcount == 1

    # -- risk events and commands ----------------------------------------------------------------------

    def record_risk_event(self, ts_ms: int, kind: str, detail: str, state_from: str, state_to: str) -> None:
        self._db.execute(
            "INSERT INTO risk_events (ts_ms, kind, detail, state_from, state_to) VALUES (?, ?, ?, ?, ?)",
            (ts_ms, kind, detail, state_from, state_to),
        )

    def risk_events(self) -> list[tuple[int, str, str, str, str]]:
        rows = self._db.execute(
            "SELECT ts_ms, kind, detail, state_from, state_to FROM risk_events ORDER BY id"
        )
        return [tuple(r) for r in rows.fetchall()]

    def push_command(self, command: str, source: str) -> int:
        """Queue an operator command (``stop``, ``flatten``, ``resume``) for the running bridge."""
        cur = self._db.execute(
            "INSERT INTO commands (ts_ms, command, source) VALUES (?, ?, ?)", (now_ms(), command, source)
        )
        return int(cur.lastrowid or 0)

    def take_commands(self) -> list[tuple[int, str, str]]:
        """Commands not yet taken, marked taken: ``(id, command, source)``."""
        with self.transaction() as db:
            rows = db.execute(
                "SELECT id, command, source FROM commands WHERE taken_ms IS NULL ORDER BY id"
            ).fetchall()
            if rows:
                db.execute("UPDATE commands SET taken_ms = ? WHERE taken_ms IS NULL", (now_ms(),))
        return [tuple(r) for r in rows]

    # -- decisions (the experience the training side reads back) ---------------------------------------

    def record_decision(self, decision: DecisionRecord) -> None:
        values = asdict(decision)
        names = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        self._db.execute(
            f"INSERT OR REPLACE INTO decisions ({names}) VALUES ({marks})", tuple(values.values())
        )

    def settle_decision(
        self, bar_ms: int, fill_qty: float, notional: float, fees: float, next_equity: float, reward: float
    ) -> None:
        """Book what came of decision ``bar_ms`` once the next bar closed: fills, fees, equity and reward."""
        self._db.execute(
            "UPDATE decisions SET fill_qty = ?, fill_notional = ?, fees = ?, next_equity = ?, reward = ? "
            "WHERE bar_ms = ?",
            (fill_qty, notional, fees, next_equity, reward, bar_ms),
        )

    def decisions(self, columns: str = "*") -> list[tuple[Any, ...]]:
        return [
            tuple(r) for r in self._db.execute(f"SELECT {columns} FROM decisions ORDER BY bar_ms").fetchall()
        ]

    def last_decision(self) -> dict[str, Any] | None:
        cur = self._db.execute("SELECT * FROM decisions ORDER BY bar_ms DESC LIMIT 1")
        row = cur.fetchone()
        if row is None:
            return None
        return dict(zip([d[0] for d in cur.description], row, strict=True))
