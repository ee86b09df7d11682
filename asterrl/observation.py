"""The one observation builder: a window of feature rows plus the account's state, float32.

Used by the environments and by the live bridge, so what was trained is what trades. The feature part takes
any float32 matrix with named columns (``asterrl.features.FeatureMatrix``, the one class of that name);
``builtin_features`` supplies a small set of bar transforms when no feature set is configured. Layout of
one flat observation::

    [ features[t - window + 1, :], ..., features[t, :],  account fields (ACCOUNT_FIELDS order) ]

The ``dict`` form splits the same numbers into ``features`` (window, n_features) and ``account``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from numba import njit

from asterrl.errors import DataError
from asterrl.features.matrix import FeatureMatrix
from asterrl.sim.kernels import maintenance_margin

#: Account fields appended to every observation, with their units.
ACCOUNT_FIELDS: tuple[str, ...] = (
    "position_leverage",  # signed position notional / equity
    "entry_distance",  # valuation close / entry price - 1 (0 when flat)
    "unrealised_pnl",  # unrealised PnL / equity
    "margin_ratio",  # maintenance margin / equity
    "bars_since_trade",  # bars since the last fill / 100, capped at 10
    "hours_to_funding",  # hours to the next settlement / 8
    "last_funding_rate",  # most recent settled rate, bps
)
N_ACCOUNT_FIELDS = len(ACCOUNT_FIELDS)


def builtin_features(bars: pd.DataFrame) -> FeatureMatrix:
    """A small built-in feature set (per bar, in percent): no indicators, only transforms of one bar.

    ``log_return`` close over previous close, ``log_range`` high over low, ``log_body`` close over open,
    ``upper_wick`` and ``lower_wick`` as fractions of the range, ``log_volume_change`` (volume over previous,
    clipped to +-5). The first row is NaN (no previous bar).
    """
    o, h, lo, c = (bars[col].to_numpy(dtype=np.float64) for col in ("open", "high", "low", "close"))
    v = bars["volume"].to_numpy(dtype=np.float64)
    log_c = np.log(c)
    ret = np.concatenate(([np.nan], np.diff(log_c))) * 100.0
    rng = np.log(h / lo) * 100.0
    body = np.log(c / o) * 100.0
    span = np.where(h > lo, h - lo, 1.0)
    upper = (h - np.maximum(o, c)) / span
    lower = (np.minimum(o, c) - lo) / span
    lv = np.log1p(v)
    vol_change = np.clip(np.concatenate(([np.nan], np.diff(lv))), -5.0, 5.0)
    values = np.stack([ret, rng, body, upper, lower, vol_change], axis=1).astype(np.float32)
    names = ("log_return", "log_range", "log_body", "upper_wick", "lower_wick", "log_volume_change")
    stamps = bars["timestamp"].to_numpy(np.int64) if "timestamp" in bars.columns else None
    return FeatureMatrix(values, names, stamps, warmup=min(1, len(bars)))


@dataclass(frozen=True, slots=True)
class ObservationLayout:
    """Shape and meaning of an observation, exported into the frozen-policy manifest."""

    window: int
    feature_columns: tuple[str, ...]
    kind: str = "box"
    account_fields: tuple[str, ...] = ACCOUNT_FIELDS

    @property
    def n_features(self) -> int:
        """Feature columns per bar."""
        return len(self.feature_columns)

    @property
    def size(self) -> int:
        """Length of the flat observation."""
        return self.window * self.n_features + len(self.account_fields)

    def to_manifest(self) -> dict[str, Any]:
        """JSON-safe description: order of values, shapes and dtype."""
        return {
            "kind": self.kind,
            "dtype": "float32",
            "window": self.window,
            "feature_columns": list(self.feature_columns),
            "account_fields": list(self.account_fields),
            "flat_size": self.size,
            "order": "features rows t-window+1..t (row-major), then account fields",
        }


@njit(cache=True)
def write_observation(
    out: npt.NDArray[np.float32],
    features_flat: npt.NDArray[np.float32],
    n_features: int,
    bar: int,
    window: int,
    qty: float,
    entry: float,
    wallet: float,
    value_close: float,
    brackets: npt.NDArray[np.float64],
    bars_since_trade: int,
    hours_to_funding: float,
    last_funding_rate: float,
) -> None:
    """Fill one flat observation row for decision bar ``bar`` (see the module docstring for the order)."""
    n = window * n_features
    start = (bar - window + 1) * n_features
    window_values = features_flat[start : start + n]
    for j in range(n):  # an explicit loop over 1-D views vectorises; numba's slice assignment (overlap
        out[j] = window_values[j]  # check, generic indexing) took about 3.5x as long for 32 x 16 floats
    upnl = qty * (value_close - entry)
    equity = wallet + upnl
    inv = 1.0 / equity if equity > 0.0 else 0.0
    notional = abs(qty) * value_close
    out[n] = qty * value_close * inv
    out[n + 1] = value_close / entry - 1.0 if entry > 0.0 else 0.0
    out[n + 2] = upnl * inv
    out[n + 3] = (
        maintenance_margin(notional, brackets) * inv if equity > 0.0 else (1.0 if qty != 0.0 else 0.0)
    )
    out[n + 4] = min(bars_since_trade, 1000) / 100.0
    out[n + 5] = hours_to_funding / 8.0
    out[n + 6] = last_funding_rate * 1e4


def nan_free(values: npt.NDArray[np.float32], first_row: int) -> npt.NDArray[np.float32]:
    """Copy with NaN/inf before ``first_row`` set to 0 (warm-up rows are never observed by an episode)."""
    out = np.array(values, dtype=np.float32, order="C", copy=True)
    out[:first_row] = np.where(np.isfinite(out[:first_row]), out[:first_row], 0.0)
    if not math.isfinite(float(np.abs(out[first_row:]).max(initial=0.0))):
        raise DataError("features hold NaN or inf after their warm-up rows")
    return out
