"""Request parameters and error answers of the local exchange, in the venue's terms.

:class:`ApiError` is a refusal the venue sends as HTTP ``status`` with ``{"code", "msg"}``. :class:`Params`
reads one request's parameters (query string and form body, the query winning on a repeated key, as on
Aster) and turns a missing or malformed value into the venue's -1102 / -1100 / -1130 answer.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np

from asterrl.exchange.codes import Code, message


class ApiError(Exception):
    """A request the venue rejects: HTTP ``status`` with body ``{"code": code, "msg": msg}``."""

    def __init__(self, status: int, code: int, msg: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"HTTP {status} {code} {msg}")
        self.status, self.code, self.msg = status, code, msg
        self.headers = headers or {}

    @classmethod
    def of(cls, code: Code, status: int = 400, **fields: object) -> ApiError:
        """The error for ``code`` with the venue's message text."""
        return cls(status, int(code), message(code, **fields))

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "msg": self.msg}


def mandatory(name: str) -> ApiError:
    return ApiError.of(Code.MANDATORY_PARAM_EMPTY_OR_MALFORMED, name=name)


def invalid(name: str) -> ApiError:
    return ApiError.of(Code.INVALID_PARAMETER, name=name)


_INT = re.compile(r"^-?[0-9]{1,20}$")
_DECIMAL = re.compile(r"^[0-9]{1,20}(\.[0-9]{1,20})?$")


class Params:
    """One request's parameters by name (the last value of a repeated name wins within a part)."""

    __slots__ = ("values",)

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self.values.get(name)
        return default if value is None or value == "" else value

    def text(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise mandatory(name)
        return value

    def opt_int(self, name: str) -> int | None:
        value = self.get(name)
        if value is None:
            return None
        if not _INT.match(value):
            raise ApiError.of(Code.ILLEGAL_CHARS, name=name, pattern="^[0-9]{1,20}$")
        return int(value)

    def integer(self, name: str) -> int:
        value = self.opt_int(name)
        if value is None:
            raise mandatory(name)
        return value

    def opt_decimal(self, name: str) -> Decimal | None:
        value = self.get(name)
        if value is None:
            return None
        if not _DECIMAL.match(value):
            raise ApiError.of(Code.ILLEGAL_CHARS, name=name, pattern="^([0-9]{1,20})(\\.[0-9]{1,20})?$")
        try:
            return Decimal(value)
        except InvalidOperation:
            raise invalid(name) from None

    def decimal(self, name: str) -> Decimal:
        value = self.opt_decimal(name)
        if value is None:
            raise mandatory(name)
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.get(name)
        if value is None:
            return default
        if value.lower() not in ("true", "false"):
            raise invalid(name)
        return value.lower() == "true"

    def choice(self, name: str, options: tuple[str, ...], default: str | None = None) -> str:
        value = self.get(name, default)
        if value is None:
            raise mandatory(name)
        if value not in options:
            raise invalid(name)
        return value

    def limit(self, default: int, maximum: int) -> int:
        value = self.opt_int("limit")
        if value is None:
            return default
        if not 1 <= value <= maximum:
            raise invalid("limit")
        return value


def fmt(value: float) -> str:
    """Shortest positional decimal string that reads back as the same float64 (``"0.0001"``, not
    ``"1e-04"``), so a client parsing it as ``Decimal`` and back to float gets the exact number."""
    text = repr(float(value))  # the shortest round-trip digits; positional unless very large or small
    if "e" in text or "n" in text:
        return np.format_float_positional(float(value), unique=True, trim="-")
    return text[:-2] if text.endswith(".0") else text
