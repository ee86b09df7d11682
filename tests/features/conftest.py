"""Shared fixtures: a synthetic market with every optional input, and the shared BTCUSDT 1h bars."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from asterrl.features import MarketInputs

HOUR_MS = 3_600_000
#: Repository root is parents[2] of this file; the shared data sits beside the repository.
SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def synthetic_bars(
    n: int, seed: int, start_ms: int = 1_700_000_000_000 - 1_700_000_000_000 % HOUR_MS
) -> dict:
    """A random-walk OHLCV series with taker-buy volume; highs and lows bracket open and close."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    open_ = np.empty(n)
    open_[0] = 100.0
    open_[1:] = close[:-1] * np.exp(rng.normal(0.0, 0.001, n - 1))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, 0.004, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, 0.004, n)))
    volume = rng.lognormal(3.0, 0.5, n)
    volume[rng.random(n) < 0.01] = 0.0
    taker = volume * rng.uniform(0.2, 0.8, n)
    return {
        "timestamp": start_ms + HOUR_MS * np.arange(n, dtype=np.int64),
        "open": open_,
        "high": high,
        "low": low,
        "close": close,
        "volume": volume,
        "taker_buy_volume": taker,
    }


def synthetic_inputs(n: int = 1200, seed: int = 7) -> MarketInputs:
    """Bars plus taker flow, 8-hourly funding (one settlement before the first bar) and a reference close."""
    bars = synthetic_bars(n, seed)
    rng = np.random.default_rng(seed + 1)
    first = bars["timestamp"][0] - bars["timestamp"][0] % (8 * HOUR_MS)
    funding_ts = first + 8 * HOUR_MS * np.arange(n // 8 + 2, dtype=np.int64)
    reference = synthetic_bars(n, seed + 2)["close"]
    return MarketInputs(
        interval_ms=HOUR_MS,
        funding_timestamp=funding_ts,
        funding_rate=rng.normal(1e-4, 2e-4, funding_ts.shape[0]),
        reference_close=reference,
        **bars,
    )


@pytest.fixture(scope="session")
def market() -> MarketInputs:
    return synthetic_inputs()


@pytest.fixture(scope="session")
def btc_bars() -> pd.DataFrame:
    path = SHARED_DATA / "perp_ohlcv" / "BTCUSDT_1h.csv.gz"
    if not path.exists():
        pytest.skip(f"shared data not found at {path}")
    return pd.read_csv(path)
