"""V3 nonces: microseconds on the server's clock, strictly increasing per signer, never reused.

Aster keeps the last 100 nonces of each signer and refuses a repeat, and a nonce must lie within a window
(10 s at the docs' HEAD, ±60 s later) of the server's time (reference §4.2). :class:`NonceSource` hands out
``max(server-clock µs, last + 1)`` under a lock, so threads and tasks never share one. With a
``state_path`` it also survives restarts and other processes using the same signer: nonces are issued from
blocks reserved in that file under an exclusive ``flock``, each block starting at or after the highest
block any process reserved before, so two processes never issue the same nonce and a restarted one starts
above everything issued before. A block covers ``block_us`` of clock time (1 s), so nonces stay within a
second of the clock and well inside the window.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from asterrl.errors import ConfigError

#: Server-clock time in integer microseconds.
ClockUs = Callable[[], int]


def wall_clock_us() -> int:
    """The local wall clock in integer microseconds since the epoch (UTC)."""
    return time.time_ns() // 1000


class NonceSource:
    """Unique, increasing nonces (µs) for one signer.

    :param clock_us: the server's clock in µs; the client passes its offset-corrected clock, so a resync
        after a nonce error moves new nonces into the server's window.
    :param state_path: file holding the end of the last reserved block; ``None`` keeps state in memory only
        (unique within the process; across restarts only while the wall clock does not step back).
    :param block_us: clock time each reserved block covers, µs.
    """

    def __init__(
        self,
        clock_us: ClockUs = wall_clock_us,
        state_path: str | Path | None = None,
        block_us: int = 1_000_000,
    ) -> None:
        if block_us <= 0:
            raise ConfigError("nonce block_us must be > 0")
        self._clock_us = clock_us
        self._path = Path(state_path) if state_path is not None else None
        self._block_us = block_us
        self._lock = threading.Lock()
        self._last = 0
        self._block_end = 0 if self._path is not None else 2**63

    def __call__(self) -> int:
        """The next nonce."""
        with self._lock:
            nonce = max(self._clock_us(), self._last + 1)
            if nonce >= self._block_end:
                nonce = self._reserve(nonce)
            self._last = nonce
            return nonce

    def rebase(self) -> None:
        """Let the next nonce follow the clock even if it is below the last one (after the clock was
        resynced backwards: the server keeps the last 100 nonces, not a high-water mark, so an older nonce
        is refused only if it repeats one or falls below all 100). With a state file nonces never go back:
        other processes may be issuing above the last block."""
        with self._lock:
            if self._path is None:
                self._last = 0

    @property
    def last(self) -> int:
        """The most recent nonce handed out (0 before the first)."""
        with self._lock:
            return self._last

    def _reserve(self, wanted: int) -> int:
        """Reserve the block ``[start, start + block_us)`` in the state file; return its start."""
        assert self._path is not None
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            text = os.read(fd, 64).decode(errors="replace").strip()
            try:
                reserved = int(text) if text else 0
            except ValueError:
                raise ConfigError(
                    f"nonce state file {self._path} is corrupt (expected one integer)"
                ) from None
            start = max(wanted, reserved)
            end = start + self._block_us
            payload = f"{end}\n".encode()
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, payload)
            os.fsync(fd)
        finally:
            os.close(fd)  # closing releases the flock
        self._block_end = end
        return start
