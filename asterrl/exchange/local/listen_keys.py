"""Listen keys of the user-data stream (reference §12): one per user, valid ``ttl_ms`` after its creation
or last keep-alive; a second create returns the same key and extends it."""

from __future__ import annotations

import secrets
import threading

from asterrl.exchange.codes import Code
from asterrl.exchange.local.api import ApiError


class ListenKeys:
    """Keys by user and users by key, with expiry times on the server clock (ms).

    :param ttl_ms: validity of a key after creation or keep-alive (60 min on Aster).
    """

    def __init__(self, ttl_ms: int = 3_600_000) -> None:
        self.ttl_ms = ttl_ms
        self._lock = threading.Lock()
        self._by_user: dict[str, str] = {}
        self._expiry: dict[str, tuple[str, int]] = {}

    def create(self, user: str, now: int) -> str:
        """The user's key (a new one if it has none or it expired), valid ``ttl_ms`` from now."""
        with self._lock:
            key = self._by_user.get(user)
            if key is None or self._expiry[key][1] <= now:
                if key is not None:
                    self._expiry.pop(key, None)
                key = secrets.token_hex(32)
                self._by_user[user] = key
            self._expiry[key] = (user, now + self.ttl_ms)
            return key

    def keep_alive(self, user: str, now: int) -> None:
        """Extend the user's key; -1125 when it has none or it expired."""
        with self._lock:
            key = self._by_user.get(user)
            if key is None or self._expiry[key][1] <= now:
                raise ApiError.of(Code.INVALID_LISTEN_KEY)
            self._expiry[key] = (user, now + self.ttl_ms)

    def close(self, user: str) -> str | None:
        """Remove the user's key; return it (its connections are to be closed)."""
        with self._lock:
            key = self._by_user.pop(user, None)
            if key is not None:
                self._expiry.pop(key, None)
            return key

    def user_of(self, key: str, now: int) -> str | None:
        """The user of a valid key, else ``None``."""
        with self._lock:
            entry = self._expiry.get(key)
            return entry[0] if entry is not None and entry[1] > now else None

    def expire(self, now: int, force: bool = False) -> list[tuple[str, str]]:
        """Drop keys past their expiry (every key when ``force``); return (key, user) of each dropped."""
        with self._lock:
            gone = [(k, u) for k, (u, t) in self._expiry.items() if force or t <= now]
            for key, user in gone:
                self._expiry.pop(key, None)
                if self._by_user.get(user) == key:
                    del self._by_user[user]
            return gone
