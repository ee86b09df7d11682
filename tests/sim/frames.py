"""Small hand-made market frames for the scenario tests (1h bars from 2024-01-01 00:00 UTC)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC, ms
HOUR = 3_600_000


def bars(
    opens: Sequence[float] | npt.NDArray[np.float64],
    highs: Sequence[float] | npt.NDArray[np.float64],
    lows: Sequence[float] | npt.NDArray[np.float64],
    closes: Sequence[float] | npt.NDArray[np.float64],
    quote_volume: float = 4_000_000.0,
) -> pd.DataFrame:
    """Hourly bars with a fixed quote (USDT) volume and base volume ``quote_volume / close``."""
    n = len(opens)
    close = np.asarray(closes, dtype=np.float64)
    return pd.DataFrame(
        {
            "timestamp": T0 + HOUR * np.arange(n, dtype=np.int64),
            "open": np.asarray(opens, dtype=np.float64),
            "high": np.asarray(highs, dtype=np.float64),
            "low": np.asarray(lows, dtype=np.float64),
            "close": close,
            "volume": quote_volume / close,
            "quote_volume": np.full(n, quote_volume),
        }
    )


def flat_bars(price: float, n: int, quote_volume: float = 4_000_000.0) -> pd.DataFrame:
    """``n`` bars that never move from ``price``."""
    p = [price] * n
    return bars(p, p, p, p, quote_volume)
