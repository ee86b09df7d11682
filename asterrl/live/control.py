"""The kill switch from every side: a file, SIGTERM/SIGINT, ``asterrl deploy stop|flatten``, HTTP, Python.

Commands the running bridge obeys (checked every tick, well under a second):

* ``stop``: cancel every open order and exit; the position is kept (SIGTERM and SIGINT send this; a
  second signal exits at once).
* ``flatten``: go HALTED, cancel every open order, close the position with reduce-only orders, then exit.
* ``halt``: go HALTED (cancel all; flatten when ``limits.flatten_on_halt``) and keep monitoring: the
  kill file sends this (``flatten`` when the file's text says so).
* ``resume``: clear latched breaches (back to RUNNING if nothing still holds).

Another process (the CLI, the dashboard, a script) calls :func:`send_command` with the deployment's state
file; the running bridge takes the command from the store (or from its HTTP server's ``/control``).
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from asterrl.errors import LiveError
from asterrl.live.store import StateStore

COMMANDS = ("stop", "flatten", "halt", "resume")


def send_command(state_path: str | Path, command: str, source: str = "api") -> int:
    """Queue ``command`` for the deployment whose state file is ``state_path``; returns its id."""
    if command not in COMMANDS:
        raise LiveError(f"unknown deploy command {command!r}; expected one of {', '.join(COMMANDS)}")
    path = Path(state_path).expanduser()
    if not path.exists():
        raise LiveError(f"no deployment state at {path} (is deploy.run_id / deploy.state_dir right?)")
    store = StateStore(path)
    try:
        return store.push_command(command, source)
    finally:
        store.close()


class KillSwitch:
    """Collects commands from the kill file, signals and the state store, for the bridge to poll.

    :param store: the deployment's state store (commands from other processes).
    :param kill_file: a file whose existence means ``halt`` (``flatten`` if its text contains it).
    """

    def __init__(self, store: StateStore, kill_file: Path) -> None:
        self.store = store
        self.kill_file = kill_file
        self._pending: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._signals = 0
        self._file_seen = False
        self._previous: dict[int, Any] = {}

    def push(self, command: str, source: str) -> None:
        """A command from this process (the HTTP server's ``/control``)."""
        with self._lock:
            self._pending.append((command, source))

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT request a graceful ``stop``; a second one exits at once (main thread only)."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._previous[sig] = signal.signal(sig, self._on_signal)

    def restore_signal_handlers(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signals += 1
        if self._signals > 1:
            os._exit(128 + signum)  # the operator insists: leave now (the state store is consistent)
        self.push("stop", signal.Signals(signum).name)

    def poll(self) -> list[tuple[str, str]]:
        """Commands that arrived since the last poll, oldest first: ``(command, source)``."""
        with self._lock:
            out, self._pending = self._pending, []
        out += [(command, source) for _, command, source in self.store.take_commands()]
        if self.kill_file.exists() and not self._file_seen:
            self._file_seen = True
            try:
                text = self.kill_file.read_text(errors="replace").lower()
            except OSError:
                text = ""
            out.append(("flatten" if "flatten" in text else "halt", f"kill file {self.kill_file}"))
        return out
