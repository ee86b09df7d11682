"""Fault injection on the local exchange, scriptable from tests and from a plan file on the command line.

HTTP faults are queued and each answers one matching request (optionally only one path or method):
a status (0 drops the connection unanswered, 200 answers normally), an optional ``Retry-After``, a body,
a delay, and ``process`` — the request takes effect first and the fault answer replaces the real one, the
"503 where the order was in fact accepted" case. Stream faults (disconnects, stalls, duplicated and
reordered user events, listen-key expiry), clock skew and a restart that keeps the book are methods of
``LocalAsterServer``; a :class:`FaultPlan` schedules any of them at times after start::

    [{"at_s": 0, "action": "http", "status": 503, "path": "/fapi/v3/order", "process": true},
     {"at_s": 5, "action": "disconnect"}, {"at_s": 9, "action": "restart", "down_s": 1.0}]
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asterrl.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Fault:
    """One queued HTTP failure: answer ``status`` (0 = close the connection without answering; 200 = answer
    normally) after ``delay_s`` seconds of real time; with ``process`` the request is executed first."""

    status: int
    retry_after: float | None = None
    body: dict[str, Any] | None = None
    path: str | None = None
    delay_s: float = 0.0
    method: str | None = None
    process: bool = False


class FaultQueue:
    """Queued HTTP faults, taken in order by the first request each one matches."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()

    def add(self, fault: Fault, times: int = 1) -> None:
        with self._lock:
            self._faults.extend([fault] * times)

    def take(self, path: str, method: str) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self._faults):
                if (fault.path is None or fault.path == path) and (
                    fault.method is None or fault.method == method
                ):
                    del self._faults[i]
                    return fault
        return None

    def __len__(self) -> int:
        with self._lock:
            return len(self._faults)


@dataclass
class StreamFaults:
    """Faults of the WebSocket side, read by the stream hub."""

    #: User events still to send twice.
    duplicate: int = 0
    #: User events still to hold back and send in reverse order, in batches of ``reorder_batch``.
    reorder: int = 0
    reorder_batch: int = 2
    #: Until this monotonic time (s), nothing is sent on the streams (of ``stall_kind``).
    stall_until: float = 0.0
    stall_kind: str = "all"
    held: list[tuple[str, str]] = field(default_factory=list)


ACTIONS = ("http", "disconnect", "stall", "duplicate", "reorder", "expire_listen_keys", "skew", "restart")


@dataclass(frozen=True, slots=True)
class PlannedFault:
    """One entry of a fault plan: ``action`` with its arguments, ``at_s`` seconds after start."""

    at_s: float
    action: str
    args: dict[str, Any]


class FaultPlan:
    """Faults scheduled after the server starts, from a JSON (or YAML) list of entries."""

    def __init__(self, entries: list[PlannedFault]) -> None:
        self.entries = sorted(entries, key=lambda e: e.at_s)

    @classmethod
    def load(cls, path: str | Path) -> FaultPlan:
        """Read and validate a plan file; one ``ConfigError`` line names a bad entry."""
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigError(f"fault plan {path}: cannot read ({exc.strerror})") from None
        try:
            if path.suffix in (".yaml", ".yml"):
                import yaml

                raw = yaml.safe_load(text)
            else:
                raw = json.loads(text)
        except Exception as exc:
            raise ConfigError(
                f"fault plan {path}: not valid {path.suffix or 'JSON'} ({type(exc).__name__})"
            ) from None
        return cls.from_list(raw, str(path))

    @classmethod
    def from_list(cls, raw: Any, origin: str = "fault plan") -> FaultPlan:
        if not isinstance(raw, list):
            raise ConfigError(f"{origin}: expected a list of faults")
        entries = []
        for n, item in enumerate(raw):
            if not isinstance(item, dict) or item.get("action") not in ACTIONS:
                raise ConfigError(f"{origin}: entry {n} needs an 'action', one of {', '.join(ACTIONS)}")
            args = {k: v for k, v in item.items() if k not in ("at_s", "action")}
            at = item.get("at_s", 0.0)
            if not isinstance(at, int | float) or at < 0:
                raise ConfigError(f"{origin}: entry {n}: at_s must be a number >= 0")
            if item["action"] == "http" and not isinstance(args.get("status"), int):
                raise ConfigError(f"{origin}: entry {n}: an http fault needs an integer 'status'")
            entries.append(PlannedFault(float(at), item["action"], args))
        return cls(entries)
