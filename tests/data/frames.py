"""Small hand-built frames for the data-layer tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

HOUR = 3_600_000
T0 = 1_700_000_000_000 // HOUR * HOUR  # 2023-11-14 22:00 UTC, on the 1h grid


def bars(n: int = 10, start: int = T0, step: int = HOUR, base: float = 100.0) -> pd.DataFrame:
    """``n`` consistent 1h bars: close rises by 1 each bar, high/low 0.5 outside open/close."""
    ts = start + np.arange(n, dtype=np.int64) * step
    close = base + np.arange(1, n + 1, dtype=np.float64)
    open_ = close - 1.0
    return pd.DataFrame(
        {
            "timestamp": ts,
            "open": open_,
            "high": close + 0.5,
            "low": open_ - 0.5,
            "close": close,
            "volume": np.full(n, 10.0),
        }
    )
