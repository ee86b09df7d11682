"""Supervised targets and the naive forecasts they are judged against.

Timing: the label of bar t is ``ln(close[t+h] / close[t])``; it is known only at bar t+h's close, so the
last ``h`` bars have no label (NaN). Its sign (``y > 0``) is the classification target.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def forward_log_return(close: npt.ArrayLike, horizon: int) -> FloatArray:
    """``ln(close[t+h] / close[t])`` per bar (dimensionless log return); NaN for the last ``h`` bars."""
    c = np.asarray(close, dtype=np.float64)
    out = np.full(c.shape[0], np.nan)
    if horizon < c.shape[0]:
        out[: c.shape[0] - horizon] = np.log(c[horizon:] / c[:-horizon])
    return out


def trailing_log_return(close: npt.ArrayLike, horizon: int) -> FloatArray:
    """``ln(close[t] / close[t-h])`` per bar: the last completed ``h``-bar move (NaN for the first ``h``)."""
    c = np.asarray(close, dtype=np.float64)
    out = np.full(c.shape[0], np.nan)
    if horizon < c.shape[0]:
        out[horizon:] = np.log(c[horizon:] / c[:-horizon])
    return out


def up_label(returns: npt.ArrayLike) -> FloatArray:
    """1.0 where the forward return is positive, 0.0 where it is zero or negative, NaN where unknown."""
    y = np.asarray(returns, dtype=np.float64)
    return np.where(np.isnan(y), np.nan, (y > 0.0).astype(np.float64))
