"""``FeatureMatrix``: the one type for per-bar features, made by the feature pipeline, the forecasts and the
built-in bar transforms, and read by the observation builder, the envs and the live bridge."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from asterrl.errors import DataError


@dataclass(frozen=True, slots=True)
class FeatureMatrix:
    """Float32 features, one row per bar: ``values[t, j]`` is column ``columns[j]`` at bar ``t``, computed
    from data up to the close of bar ``t``.

    :param values: shape ``(bars, columns)``, cast to float32; any memory order (the pipeline writes
        column-major, one contiguous column per feature).
    :param columns: column names, one per column of ``values``.
    :param timestamp: bar open times, int64 ms UTC, one per row; ``None`` when the caller aligns the rows
        with its bars itself.
    :param warmup: leading rows its maker declares as warm-up (NaN allowed there); 0 when not declared.
    """

    values: npt.NDArray[np.float32]
    columns: tuple[str, ...]
    timestamp: npt.NDArray[np.int64] | None = None
    warmup: int = 0

    def __post_init__(self) -> None:
        values = np.asarray(self.values, dtype=np.float32)
        columns = tuple(self.columns)
        if values.ndim != 2 or values.shape[1] != len(columns):
            raise DataError(
                f"feature values must be 2-D with one column per name: shape {values.shape}, "
                f"{len(columns)} names"
            )
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "columns", columns)
        if self.timestamp is not None:
            stamps = np.asarray(self.timestamp, dtype=np.int64)
            if stamps.shape != (values.shape[0],):
                raise DataError(f"{stamps.shape[0]} feature timestamps for {values.shape[0]} rows")
            object.__setattr__(self, "timestamp", stamps)
        if not 0 <= self.warmup <= values.shape[0]:
            raise DataError(f"feature warm-up {self.warmup} outside 0..{values.shape[0]} rows")

    @property
    def n_rows(self) -> int:
        """Bars (rows)."""
        return int(self.values.shape[0])

    @property
    def first_valid_row(self) -> int:
        """First row from which every value is finite (earlier rows are warm-up), measured on the values."""
        bad = np.flatnonzero(~np.all(np.isfinite(self.values), axis=1))
        if bad.size == 0:
            return 0
        if bad[-1] == self.values.shape[0] - 1:
            raise DataError("the last feature row holds NaN or inf")
        return int(bad[-1]) + 1

    def to_frame(self, drop_warmup: bool = False) -> pd.DataFrame:
        """``timestamp`` (int64 UTC ms, bar open) plus one float32 column per feature."""
        if self.timestamp is None:
            raise DataError("this feature matrix has no timestamps to write")
        start = self.warmup if drop_warmup else 0
        frame = pd.DataFrame(self.values[start:], columns=list(self.columns), copy=False)
        frame.insert(0, "timestamp", self.timestamp[start:])
        return frame
