"""A user's signal frame: target positions per bar from a CSV or Parquet file, aligned with the bars.

The row stamped ``T`` is the target decided at the close of the bar that opens at ``T`` (it fills at the
next bar's open). Targets are signed position notional over equity (leverage: 1 = long the whole equity,
-0.5 = short half); the backtest turns them into fractions of the position scale (``risk.max_leverage``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from asterrl.errors import ConfigError, DataError

TIME_COLUMNS = ("timestamp", "time", "date", "datetime", "open_time")


def read_signals(path: str | Path, columns: list[str]) -> pd.DataFrame:
    """The file's ``timestamp`` (ms UTC) and target ``columns``, sorted; one error line for a bad file."""
    target = Path(path).expanduser()
    if not target.is_file():
        raise ConfigError(f"backtest.signals={path}: no such file")
    try:
        frame = pd.read_parquet(target) if target.suffix == ".parquet" else pd.read_csv(target)
    except (OSError, ValueError) as exc:
        raise DataError(f"backtest.signals={path}: cannot read it ({str(exc).splitlines()[0]})") from None
    time_column = next((c for c in TIME_COLUMNS if c in frame.columns), None)
    if time_column is None:
        raise DataError(f"backtest.signals={path}: no time column (one of {', '.join(TIME_COLUMNS)})")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"backtest.signals={path}: no column {', '.join(missing)} (targets per bar)")
    stamps = frame[time_column]
    if pd.api.types.is_numeric_dtype(stamps):
        ms = stamps.to_numpy(dtype=np.int64)
    else:
        try:
            ms = pd.to_datetime(stamps, utc=True).to_numpy(dtype="datetime64[ms]").astype(np.int64)
        except (ValueError, TypeError):
            raise DataError(
                f"backtest.signals={path}: column {time_column} holds something not a time"
            ) from None
    values = frame[columns].to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values).all(axis=1))
    if bad.size:
        raise DataError(f"backtest.signals={path}: row {int(bad[0]) + 2} holds a missing or infinite target")
    out = pd.DataFrame(values, columns=columns)
    out.insert(0, "timestamp", ms)
    out = out.sort_values("timestamp", kind="stable")
    if out["timestamp"].duplicated().any():
        raise DataError(f"backtest.signals={path}: a timestamp appears twice")
    return out.reset_index(drop=True)


def signal_targets(
    signals: pd.DataFrame, column: str, timestamps: npt.NDArray[np.int64], position_scale: float
) -> tuple[npt.NDArray[np.float64], int]:
    """``(targets per bar as fractions of the scale, bars clipped)``: the last row at or before each bar
    (flat before the first), divided by ``position_scale`` and clipped to [-1, 1]."""
    where = np.searchsorted(signals["timestamp"].to_numpy(np.int64), timestamps, side="right") - 1
    values = signals[column].to_numpy(np.float64)
    leverage = np.where(where >= 0, values[np.maximum(where, 0)], 0.0)
    fraction = leverage / position_scale
    clipped = int(np.count_nonzero(np.abs(fraction) > 1.0 + 1e-12))
    return np.clip(fraction, -1.0, 1.0), clipped
