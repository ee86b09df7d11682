"""Rule agents as their names promise: the env's mapping is required, the hybrid re-enters a regime only on
fresh signals, the DeMark agent trades TD Sequential and TD Combo signals worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from agents.config import BuyAndHoldConfig, DemarkConfig, HybridConfig
from agents.policy import ActionMapping
from agents.rules import BuyAndHold, DemarkExhaustion, GridTrader, HybridAdaptive, PriceSeries, VolTrend
from asterrl.errors import ConfigError
from asterrl.features.kernels.rolling import rolling_max, rolling_min
from tests.envs.market import synthetic_market

CONTINUOUS = ActionMapping("continuous", position_scale=3.0)


@pytest.mark.parametrize("make", [BuyAndHold, VolTrend, GridTrader, HybridAdaptive, DemarkExhaustion])
def test_a_rule_agent_without_the_env_mapping_refuses_to_run(make: type) -> None:
    bars = synthetic_market(300, seed=1)[0]
    agent = make()
    with pytest.raises(ConfigError, match="without the env's action mapping") as error:
        agent.prepare(bars)
    assert "\n" not in str(error.value)
    # With the mapping it runs: buy-and-hold at 1.5x over a 3x scale targets 0.5 (not 1.5 / 1.0 = 1).
    assert make(None, CONTINUOUS).prepare(bars).targets.shape == (300,)
    held = BuyAndHold(BuyAndHoldConfig(leverage=1.5), CONTINUOUS).prepare(bars).targets
    np.testing.assert_allclose(held, 0.5)


def _channels(series: PriceSeries, window: int) -> tuple[np.ndarray, np.ndarray]:
    high = np.r_[np.nan, rolling_max(series.high, window)[:-1]]
    low = np.r_[np.nan, rolling_min(series.low, window)[:-1]]
    return high, low


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_hybrid_adopts_no_position_opened_outside_its_regime(seed: int) -> None:
    """Over random markets: each leg trades only in its regime, and at every switch into the trend regime
    the hybrid is flat unless a breakout fires on that very bar; the standalone trend follower, running all
    the time, holds a position at many of those switches (what the hybrid used to adopt)."""
    bars = synthetic_market(4000, seed=seed, vol=0.006)[0]
    series = PriceSeries.from_bars(bars)
    config = HybridConfig(adx_trend=22.0, adx_range=18.0)
    agent = HybridAdaptive(config, CONTINUOUS)
    decided = agent.decision_series(series)
    regime, target = decided["regime"], decided["target"]
    np.testing.assert_array_equal(agent.compute_targets(series), target)
    assert np.all(decided["trend_leg"][regime != 1.0] == 0.0)
    assert np.all(decided["grid_leg"][regime != 0.0] == 0.0)
    np.testing.assert_array_equal(target, decided["trend_leg"] + decided["grid_leg"])
    previous = np.r_[-1.0, regime[:-1]]
    into_trend = np.flatnonzero((regime == 1.0) & (previous != 1.0))
    into_range = np.flatnonzero((regime == 0.0) & (previous != 0.0))
    assert into_trend.size >= 5 and into_range.size >= 5
    entry_high, entry_low = _channels(series, config.trend.entry_window)
    close = series.close
    fresh_long = close[into_trend] > entry_high[into_trend]
    fresh_short = close[into_trend] < entry_low[into_trend]
    held = target[into_trend]
    assert not np.any((held > 0) & ~fresh_long) and not np.any((held < 0) & ~fresh_short)
    # The grid starts flat on the first bar of each range and trades only lines crossed afterwards.
    assert np.all(target[into_range] == 0.0)
    standalone = VolTrend(config.trend, CONTINUOUS).compute_targets(series)[into_trend]
    stale = ((standalone > 0) & ~fresh_long) | ((standalone < 0) & ~fresh_short)
    assert stale.sum() >= 10, "the market never had an open breakout at a switch: the test proves nothing"


def _demark_bars() -> pd.DataFrame:
    # A flip (bar 4 closes above bar 0) then a steady fall of 0.2 per bar from 9: one buy setup 1..23 on bars
    # 5-27 (bar 13 completes it; its low 7.3 <= min(lows of bars 10, 11) = 7.7 perfects it), TD Combo 13 at
    # bar 17, TD Sequential countdown 13 at bar 25 (see tests/features/test_hand_worked.py).
    close = np.array([10, 11, 12, 13, 14] + [9 - 0.2 * k for k in range(23)], dtype=np.float64)
    return pd.DataFrame({
        "timestamp": 1_704_067_200_000 + 3_600_000 * np.arange(close.size, dtype=np.int64),
        "open": close, "high": close + 0.1, "low": close - 0.1, "close": close, "volume": np.ones(close.size),
    })  # fmt: skip


def test_demark_trades_the_setup_the_combo_and_the_sequential_countdown() -> None:
    bars = _demark_bars()
    series = PriceSeries.from_bars(bars)
    config = DemarkConfig(hold_bars=3, stop_atr=0.0, allow_short=True)
    agent = DemarkExhaustion(config, CONTINUOUS)
    buy, sell = agent.signals(series)
    assert np.flatnonzero(buy).tolist() == [13, 17, 25] and not sell.any()
    # Long 3 bars from each signal: bars 13-15, 17-19 and 25-27.
    expected = np.zeros(len(bars))
    expected[[13, 14, 15, 17, 18, 19, 25, 26, 27]] = 1.0
    np.testing.assert_array_equal(agent.prepare(bars).targets, expected)
    decided = agent.decision_series(series)
    np.testing.assert_array_equal(decided["buy_signal"], buy.astype(float))
    without_combo = DemarkExhaustion(DemarkConfig(use_combo=False, hold_bars=3, stop_atr=0.0), CONTINUOUS)
    assert np.flatnonzero(without_combo.signals(series)[0]).tolist() == [13, 25]
    only_combo = DemarkConfig(use_setup=False, use_countdown=False, use_combo=True)
    assert np.flatnonzero(DemarkExhaustion(only_combo, CONTINUOUS).signals(series)[0]).tolist() == [17]
    with pytest.raises(ConfigError, match="use_combo"):
        DemarkConfig(use_setup=False, use_countdown=False, use_combo=False).validate()


def test_demark_trades_a_setup_where_it_is_perfected_not_only_on_bar_nine() -> None:
    # The setup of tests/features/test_hand_worked.py::_td_market: perfected on bar 15 (setup bar 11).
    close = [10, 11, 12, 13, 14, 9, 8.5, 8, 7.5, 7, 6.5, 6, 5.5, 5, 4.5] + [4] * 7
    low = [c - 0.1 for c in close]
    low[10] = 4.0
    bars = pd.DataFrame({
        "timestamp": 1_704_067_200_000 + 3_600_000 * np.arange(len(close), dtype=np.int64),
        "open": close, "high": [c + 0.1 for c in close], "low": low, "close": close, "volume": 1.0,
    })  # fmt: skip
    series = PriceSeries.from_bars(bars)
    setups_only = DemarkConfig(use_countdown=False, use_combo=False, require_perfection=True)
    assert np.flatnonzero(DemarkExhaustion(setups_only, CONTINUOUS).signals(series)[0]).tolist() == [15]
    unperfected = DemarkConfig(use_countdown=False, use_combo=False, require_perfection=False)
    assert np.flatnonzero(DemarkExhaustion(unperfected, CONTINUOUS).signals(series)[0]).tolist() == [13]


@pytest.mark.shared_data
def test_hybrid_on_shared_btcusdt_adopts_nothing_at_trend_switches(shared_data) -> None:  # type: ignore[no-untyped-def]
    """The measurement of benchmarks/hybrid_regimes.py as a check: 487 switches into trend on the shared
    BTCUSDT perp 1h bars, none holding a position that no breakout on the switch bar called for."""
    from asterrl.data.io import read_table
    from asterrl.data.schema import DataKind

    bars = read_table(shared_data / "perp_ohlcv" / "BTCUSDT_1h.csv.gz", DataKind.OHLCV)[0]
    series = PriceSeries.from_bars(bars.sort_values("timestamp").reset_index(drop=True))
    config = HybridConfig()
    decided = HybridAdaptive(config, CONTINUOUS).decision_series(series)
    regime, target = decided["regime"], decided["target"]
    previous = np.r_[-1.0, regime[:-1]]
    into_trend = np.flatnonzero((regime == 1.0) & (previous != 1.0))
    entry_high, entry_low = _channels(series, config.trend.entry_window)
    close, held = series.close[into_trend], target[into_trend]
    no_long_breakout, no_short_breakout = close <= entry_high[into_trend], close >= entry_low[into_trend]
    adopted = ((held > 0) & no_long_breakout) | ((held < 0) & no_short_breakout)
    assert into_trend.size > 400 and adopted.sum() == 0
    traded = np.abs(np.diff(np.r_[0.0, target]))
    assert traded[regime != previous].sum() / traded.sum() < 0.35
