"""API keys for the bridge: from environment variables or a key file readable by its owner alone.

V3 (Aster's current API): the main wallet address and the API wallet's (signer's) private key. V1
(legacy): an API key and its secret. Sources, in order:

1. ``deploy.key_file``: a JSON object ``{"user": "0x…", "signer_key": "0x…"}`` or
   ``{"api_key": "…", "api_secret": "…"}``. It must exist and have no group or other permission bits
   (``chmod 600``); anything else is refused before a request is made.
2. environment variables ``ASTER_USER`` + ``ASTER_SIGNER_KEY``, or ``ASTER_API_KEY`` + ``ASTER_API_SECRET``.

A secret is held in :class:`Secret`, whose ``str`` and ``repr`` are ``<redacted>``; errors name the file or
variable, never a value; :class:`RedactValues` blanks the values in any log record that reaches a handler.
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from asterrl.errors import LiveError

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_PRIVATE_KEY = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")
ENV_V3 = ("ASTER_USER", "ASTER_SIGNER_KEY")
ENV_V1 = ("ASTER_API_KEY", "ASTER_API_SECRET")


class Secret:
    """A secret string that never shows itself (``str``/``repr``/f-strings give ``<redacted>``)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The value, for the signer only."""
        return self._value

    def __repr__(self) -> str:
        return "<redacted>"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return "<redacted>"


@dataclass(frozen=True)
class ApiKeys:
    """Credentials of one account.

    :param version: ``v3`` (user + signer key) or ``v1`` (api key + secret).
    :param user: the main wallet address (V3), public.
    :param secret: the signer's private key (V3) or the API secret (V1).
    :param api_key: the V1 API key (sent in a header; kept secret too).
    :param source: where they came from (a file path or ``environment``), for messages.
    """

    version: str
    user: str
    secret: Secret
    api_key: Secret | None
    source: str

    def values(self) -> list[str]:
        """The secret values, for :class:`RedactValues`."""
        out = [self.secret.reveal()]
        if self.api_key is not None:
            out.append(self.api_key.reveal())
        return out


def _from_mapping(raw: Mapping[str, object], source: str) -> ApiKeys:
    def text(name: str) -> str:
        value = raw.get(name)
        if not isinstance(value, str) or not value:
            raise LiveError(f"{source}: {name} is missing or not a string")
        return value.strip()

    if "signer_key" in raw or "user" in raw:
        user, key = text("user"), text("signer_key")
        if not _ADDRESS.match(user):
            raise LiveError(f"{source}: user is not a 0x wallet address of 40 hex digits")
        if not _PRIVATE_KEY.match(key):
            raise LiveError(f"{source}: signer_key is not a 32-byte hex private key")
        return ApiKeys("v3", user, Secret(key), None, source)
    if "api_key" in raw or "api_secret" in raw:
        return ApiKeys("v1", "", Secret(text("api_secret")), Secret(text("api_key")), source)
    raise LiveError(f"{source}: expected user + signer_key (V3) or api_key + api_secret (V1)")


def read_key_file(path: str | Path) -> ApiKeys:
    """Keys from a JSON key file with mode 0600 (or stricter); one ``LiveError`` line otherwise."""
    file = Path(path).expanduser()
    try:
        info = file.stat()
    except FileNotFoundError:
        raise LiveError(f"key file {file} does not exist") from None
    except OSError as exc:
        raise LiveError(f"key file {file}: cannot read ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise LiveError(f"key file {file} is not a regular file")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise LiveError(
            f"key file {file} is readable or writable by group/others (mode {mode:04o}): run chmod 600 {file}"
        )
    try:
        raw = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise LiveError(f"key file {file} is not a JSON object") from None
    if not isinstance(raw, dict):
        raise LiveError(f"key file {file} is not a JSON object")
    return _from_mapping(raw, f"key file {file}")


def load_keys(key_file: str | None, environ: Mapping[str, str] | None = None) -> ApiKeys:
    """Keys from ``key_file`` when given, else from the environment; ``LiveError`` when there are none."""
    if key_file:
        return read_key_file(key_file)
    env = os.environ if environ is None else environ
    if all(env.get(name) for name in ENV_V3):
        return _from_mapping(
            {"user": env[ENV_V3[0]], "signer_key": env[ENV_V3[1]]}, "environment (ASTER_USER)"
        )
    if all(env.get(name) for name in ENV_V1):
        return _from_mapping(
            {"api_key": env[ENV_V1[0]], "api_secret": env[ENV_V1[1]]}, "environment (ASTER_API_KEY)"
        )
    raise LiveError(
        "no API keys: set deploy.key_file=<file with mode 600> or the environment variables "
        "ASTER_USER and ASTER_SIGNER_KEY (or ASTER_API_KEY and ASTER_API_SECRET)"
    )


class RedactValues(logging.Filter):
    """Blanks given secret values anywhere in a log record's message (a last line of defence)."""

    def __init__(self, values: list[str]) -> None:
        super().__init__()
        self._values = [v for v in values if len(v) >= 8]

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record that cannot format is left for logging's own error report
            return True
        cleaned = message
        for value in self._values:
            cleaned = cleaned.replace(value, "<redacted>")
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
