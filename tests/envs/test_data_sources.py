"""The env reads its market from a file path or from the store, and episodes can start at a chosen bar."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import envs
from asterrl.data.importer import default_store_root, import_file, infer_spec
from asterrl.data.store import MarketStore
from asterrl.errors import ConfigError

T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC, ms
HOUR = 3_600_000
N_BARS = 100
# No fees, spread, impact or volume cap: every number below follows from prices, positions and funding.
FREE_MARKET = {
    "costs": {
        "maker_fee": 0.0,
        "taker_fee": 0.0,
        "half_spread_bps": 0.0,
        "impact_k": 0.0,
        "participation_cap": 1.0,
    },
}


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hourly bars whose closes step up one 0.1 USDT tick every bar from 100, and 8h funding at 1 bp."""
    close = 100.0 + 0.1 * np.arange(N_BARS)
    open_ = np.concatenate(([100.0], close[:-1]))
    ts = T0 + HOUR * np.arange(N_BARS, dtype=np.int64)
    bars = pd.DataFrame(
        {
            "timestamp": ts,
            "open": open_,
            "high": np.maximum(open_, close) * 1.0005,
            "low": np.minimum(open_, close) * 0.9995,
            "close": close,
            "volume": np.full(N_BARS, 1_000.0),
        }
    )
    f_ts = T0 + 8 * HOUR * np.arange(1, N_BARS // 8 + 1, dtype=np.int64)
    funding = pd.DataFrame({"timestamp": f_ts, "funding_rate": np.full(f_ts.shape[0], 1e-4)})
    return bars, funding


def _write_csvs(folder: Path) -> tuple[Path, Path]:
    bars, funding = _frames()
    (folder / "perp_ohlcv").mkdir(parents=True)
    (folder / "perp_funding").mkdir(parents=True)
    bars_path = folder / "perp_ohlcv" / "TESTUSDT_1h.csv"
    funding_path = folder / "perp_funding" / "TESTUSDT_funding.csv"
    bars.to_csv(bars_path, index=False)
    funding.to_csv(funding_path, index=False)
    return bars_path, funding_path


def _check_first_steps(env: envs.AsterPerpEnv) -> None:
    """Start at decision bar 6 (closes 07:00 UTC), go long 3x: the 08:00 settlement at bar 7's close."""
    window = env.core.config.window
    assert window == 4
    obs, info = env.reset(seed=0, options={"start_bar": 6})
    assert info["bar"] == 6 and info["timestamp"] == T0 + 6 * HOUR
    # Built-in feature 0 is the close-to-close log return in percent: ln(1.001) * 100 on every bar.
    closes = 100.0 + 0.1 * np.arange(3, 7)  # feature 0, the log return in percent, of rows 3..6
    expected = np.log(closes / (closes - 0.1)) * 100.0
    assert obs[: window * 6].reshape(window, 6)[:, 0] == pytest.approx(expected, rel=1e-6)
    _, _, _, _, step = env.step(4)  # level 1.0: 3x (the risk limit) of 10000 USDT at bar 6's close
    # Target 3 * 10000 / 100.6 = 298.2107 BTC, rounded down to the 0.001 lot; filled at bar 7's open,
    # which is bar 6's close 100.6 (no costs).
    qty = 298.21
    assert step["fill_qty"] == pytest.approx(qty)
    assert step["fill_price"] == pytest.approx(100.6)
    # The long pays qty * 100.7 * 1 bp at bar 7's close (08:00); equity = wallet + uPnL at that close.
    assert step["funding"] == pytest.approx(-qty * 100.7 * 1e-4)
    assert step["equity"] == pytest.approx(10_000.0 - qty * 100.7 * 1e-4 + qty * 0.1)


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    return _write_csvs(tmp_path / "incoming")


@pytest.fixture
def instruments_file(tmp_path: Path) -> Path:
    """A user instruments file describing TESTUSDT: tick 0.1, lot 0.001, one 1 % tier up to 20x."""
    path = tmp_path / "instruments.yaml"
    path.write_text(
        "instruments:\n"
        "  - {symbol: TESTUSDT, tick_size: 0.1, step_size: 0.001, min_qty: 0.001, max_qty: 1000000,\n"
        "     min_notional: 5, brackets: [{notional_floor: 0, notional_cap: inf, maint_margin_rate: 0.01,\n"
        "     maint_amount: 0, max_leverage: 20}]}\n"
    )
    return path


def _env(**kwargs: Any) -> envs.AsterPerpEnv:
    return envs.AsterPerpEnv(window=4, episode_length=20, deadband=0.0, market=FREE_MARKET, **kwargs)


def _data_config(**keys: Any) -> dict[str, Any]:
    """A data section over 2024-01-01..05 with funding and without mark (the frames have none)."""
    return {"symbol": "TESTUSDT", "interval": "1h", "start": "2024-01-01", "end": "2024-01-06",
            "with_mark": False, **keys}  # fmt: skip


def test_env_reads_bars_and_funding_from_files_named_in_a_data_config(
    files: tuple[Path, Path], instruments_file: Path
) -> None:
    bars_path, funding_path = files
    section = _data_config(
        source="file",
        files={"ohlcv": str(bars_path), "funding": str(funding_path)},
        instrument_files=[str(instruments_file)],
    )
    env = _env(data_config=section)
    assert env.core.instrument.symbol == "TESTUSDT" and env.core.instrument.max_leverage == 20.0
    assert env.core.instrument.source["tick_size"] == str(instruments_file)
    _check_first_steps(env)


def test_env_reads_the_store_through_a_data_config(files: tuple[Path, Path], instruments_file: Path) -> None:
    store = MarketStore(default_store_root())  # under the test's own ASTERRL_HOME (tests/conftest.py)
    for path in files:
        import_file(store, infer_spec(path))
    _check_first_steps(
        _env(data_config=_data_config(source="aster", instrument_files=[str(instruments_file)]))
    )


def test_bars_without_an_instrument_or_an_unknown_symbol_are_one_clear_error() -> None:
    bars, funding = _frames()
    with pytest.raises(ConfigError, match="without an instrument"):
        _env(data=bars, funding=funding)
    with pytest.raises(ConfigError, match="no instrument for DOGEUSDT: run `asterrl data fetch"):
        _env(data=bars, funding=funding, instrument="DOGEUSDT")
    with pytest.raises(ConfigError, match="needs market data"):
        _env()


def test_start_bar_option_is_checked_and_reaches_the_vector_env() -> None:
    bars, funding = _frames()
    env = _env(data=bars, funding=funding, instrument="BTCUSDT")
    lo, hi = env.core.start_bounds
    assert (lo, hi) == (4, 68)  # window 4 after the NaN first row; train split is bars 0..69
    with pytest.raises(ConfigError, match="start_bar"):
        env.reset(options={"start_bar": hi + 1})
    vec = envs.AsterPerpVectorEnv(
        3, data=bars, funding=funding, instrument="BTCUSDT", window=4, episode_length=20
    )
    _, info = vec.reset(seed=1, options={"start_bar": [10, -1, 30]})
    assert info["bar"][0] == 10 and info["bar"][2] == 30 and lo <= info["bar"][1] <= hi
