"""Checks of single config values that every typed config shares: one ``ConfigError`` line naming the key.

Booleans, strings, ``None`` and NaN are refused where a number is expected (``True`` is not a leverage).
"""

from __future__ import annotations

import math
from typing import Any

from asterrl.errors import ConfigError


def check_number(
    key: str, value: Any, low: float, high: float, low_open: bool = False, high_closed: bool = False
) -> float:
    """``value`` as a float in ``[low, high)``; ``low_open`` drops ``low``, ``high_closed`` admits ``high``.

    ``high`` may be ``inf`` (then ``high_closed`` admits ``inf`` itself, a switched-off limit).
    """
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ConfigError(f"{key} must be a number, got {value!r}")
    too_high = value > high if high_closed else value >= high
    if value < low or (low_open and value == low) or too_high:
        left, right = "(" if low_open else "[", "]" if high_closed else ")"
        raise ConfigError(f"{key}={value!r} must lie in {left}{low}, {high}{right}")
    return float(value)


def check_int(key: str, value: Any, low: int) -> int:
    """``value`` as an int >= ``low``, else one ``ConfigError`` naming ``key``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{key} must be an integer >= {low}, got {value!r}")
    return int(value)


def check_bool(key: str, value: Any) -> bool:
    """``value`` if it is a bool, else one ``ConfigError`` naming ``key``."""
    if not isinstance(value, bool):
        raise ConfigError(f"{key} must be true or false, got {value!r}")
    return value
