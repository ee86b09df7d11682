"""A synthetic hourly market (random walk with wicks, 8h funding, mark prices) for the env tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

T0 = 1_672_531_200_000  # 2023-01-01 00:00 UTC, ms
HOUR = 3_600_000


def synthetic_market(
    n_bars: int = 1_500, seed: int = 0, vol: float = 0.01
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(bars, funding, mark)`` frames in the canonical schema."""
    rng = np.random.default_rng(seed)
    close = 20_000.0 * np.exp(np.cumsum(rng.normal(0.0, vol, n_bars)))
    open_ = np.concatenate(([close[0]], close[:-1])) * np.exp(rng.normal(0.0, vol / 10, n_bars))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, vol, n_bars)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, vol, n_bars)))
    ts = T0 + HOUR * np.arange(n_bars, dtype=np.int64)
    bars = pd.DataFrame(
        {
            "timestamp": ts,
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": rng.uniform(50.0, 500.0, n_bars),
        }
    )
    f_ts = ts[(ts % (8 * HOUR)) == 0][1:]
    funding = pd.DataFrame({"timestamp": f_ts, "funding_rate": rng.normal(1e-4, 2e-4, f_ts.shape[0])})
    basis = np.exp(rng.normal(0.0, 3e-4, n_bars))
    mark = pd.DataFrame(
        {
            "timestamp": ts,
            "mark_open": open_ * basis,
            "mark_high": high * basis,
            "mark_low": low * basis,
            "mark_close": close * basis,
        }
    )
    return bars, funding, mark


SPLITS = {
    "train": ["2023-01-01", "2023-01-31"],
    "validation": ["2023-02-01", "2023-02-20"],
    "test": ["2023-02-21", "2023-03-02"],
}
