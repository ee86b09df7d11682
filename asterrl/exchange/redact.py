"""Keep secrets out of logs: a logging filter that blanks signatures and listen keys in any record.

httpx logs every request URL at INFO level, and a signed GET carries its ``signature`` in the query string;
websockets logs the user-data URL, which holds the listen key. ``install`` puts :class:`RedactSecrets` on
those loggers (and the client's own), so a record reaching any handler has ``signature=<redacted>`` and
``/ws/<redacted>`` instead. The client never logs keys or parameters itself.
"""

from __future__ import annotations

import logging
import re

_PARAM = re.compile(r"((?:signature|listenKey|secret|privateKey|private_key)=)[^&\s\"'<>]+", re.IGNORECASE)
_LISTEN_KEY = re.compile(r"(/ws/)[0-9A-Za-z]{32,}")
_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "websockets",
    "websockets.client",
    "websockets.server",
    "asterrl.exchange",
)


def redact(text: str) -> str:
    """``text`` with signature, secret and listen-key values replaced by ``<redacted>``."""
    return _LISTEN_KEY.sub(r"\1<redacted>", _PARAM.sub(r"\1<redacted>", text))


class RedactSecrets(logging.Filter):
    """Rewrites a record's message with :func:`redact` (formatting its arguments first)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record that cannot format is left for logging's own error report
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_FILTER = RedactSecrets()


def install() -> None:
    """Attach the filter to the HTTP, WebSocket and client loggers (idempotent)."""
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
