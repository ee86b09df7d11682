"""Rule kernels on short hand-made series whose targets are worked out by hand in the comments."""

from __future__ import annotations

import numpy as np

from agents.rules.kernels import breakout_targets, exhaustion_targets, grid_targets, regime_switch

NAN = np.nan


def test_grid_buys_a_unit_per_line_down_and_sells_with_one_line_of_hysteresis() -> None:
    # anchor 100, spacing 1, 2 levels, no stop: z = close - 100.
    close = np.array([100.0, 99.5, 98.9, 97.2, 96.0, 98.5, 99.6, 100.0, 101.2])
    anchor = np.full(close.shape, 100.0)
    spacing = np.ones_like(close)
    out = grid_targets(close, anchor, spacing, 2, 0.0, 1.0, True)
    # z:      0   -0.5  -1.1  -2.8  -4.0  -1.5  -0.4   0.0   1.2
    # u:      0    0     1     2     2(cap) 2?   ...
    # bar 5: z=-1.5 >= 1-u = -1 ? no -> stays 2; bar 6: z=-0.4 >= -1 -> u = ceil(0.4) = 1
    # bar 7: z=0 >= 1-1=0 -> u = ceil(-0) = 0; bar 8: z=1.2 >= 1 -> u = ceil(-1.2) = -1
    expected_units = np.array([0, 0, 1, 2, 2, 2, 1, 0, -1])
    np.testing.assert_allclose(out, expected_units / 2.0)


def test_grid_stop_flattens_until_price_returns_inside_and_warmup_is_flat() -> None:
    close = np.array([100.0, 98.0, 96.0, 95.5, 98.5, 99.0])
    anchor = np.array([NAN, 100.0, 100.0, 100.0, 100.0, 100.0])
    spacing = np.full(close.shape, 1.0)
    # 2 levels, stop 1 line beyond: |z| >= 3 stops.  z: -, -2, -4, -4.5, -1.5, -1
    out = grid_targets(close, anchor, spacing, 2, 1.0, 0.5, True)
    # bar1 u=2; bar2 stop u=0; bar3 still stopped; bar4 |z|=1.5<=2 re-arms, z<=-1 -> u=floor(1.5)=1;
    # bar5 z=-1: not <= -2, not >= 0 -> 1.  Target = u/2*0.5.
    np.testing.assert_allclose(out, [0.0, 0.5, 0.0, 0.0, 0.25, 0.25])


def test_grid_long_only_ignores_short_units() -> None:
    close = np.array([100.0, 101.5, 102.5])
    out = grid_targets(close, np.full(3, 100.0), np.ones(3), 2, 0.0, 1.0, False)
    np.testing.assert_allclose(out, [0.0, 0.0, 0.0])


def test_breakout_enters_on_channel_break_and_exits_on_the_shorter_channel() -> None:
    close = np.array([10.0, 11.0, 12.5, 12.0, 10.5, 9.0, 8.0])
    entry_high = np.array([NAN, 11.5, 12.0, 13.0, 13.0, 13.0, 13.0])
    entry_low = np.array([NAN, 9.0, 9.0, 9.0, 9.0, 9.5, 9.5])
    exit_high = np.array([NAN, 11.5, 12.0, 12.8, 12.8, 12.8, 12.0])
    exit_low = np.array([NAN, 9.5, 10.0, 11.0, 11.0, 10.0, 9.0])
    size = np.array([NAN, 0.5, 0.5, 0.4, 0.4, 0.6, 0.6])
    out = breakout_targets(close, entry_high, entry_low, exit_high, exit_low, size, True)
    # bar1: 11 within [9, 11.5] -> 0; bar2: 12.5 > 12 -> long 0.5; bar3: 12 >= exit low 11 -> long 0.4;
    # bar4: 10.5 < 11 -> exit, 10.5 > entry low 9 -> 0; bar5: 9.0 < 9.5 -> short 0.6; bar6: 8 < 12 -> short.
    np.testing.assert_allclose(out, [0.0, 0.0, 0.5, 0.4, 0.0, -0.6, -0.6])


def test_regime_switch_keeps_the_last_regime_between_thresholds_and_is_flat_on_volatility_spikes() -> None:
    adx = np.array([NAN, 30.0, 22.0, 15.0, 22.0, 30.0])
    ratio = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 3.0])
    trend = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    grid = -trend
    regime, out = regime_switch(adx, ratio, trend, grid, 25.0, 20.0, 2.0)
    np.testing.assert_allclose(regime, [-1, 1, 1, 0, 0, -1])
    np.testing.assert_allclose(out, [0.0, 0.2, 0.3, -0.4, -0.5, 0.0])


def test_exhaustion_holds_for_hold_bars_and_stops_out() -> None:
    close = np.array([100.0, 101.0, 102.0, 103.0, 100.0, 97.0, 96.0])
    buy = np.array([True, False, False, False, True, False, False])
    sell = np.zeros(7, dtype=np.bool_)
    stop = np.full(7, 2.0)
    out = exhaustion_targets(close, buy, sell, stop, 3, 1.0, True)
    # long at bar 0 (stop 98), held bars 1-2, expires at bar 3 (3 bars); long again at bar 4 (stop 98);
    # bar 5 closes 97 < 98 -> stopped flat; bar 6 flat.
    np.testing.assert_allclose(out, [1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0])


def test_exhaustion_sell_signal_closes_a_long_when_shorts_are_off() -> None:
    close = np.array([100.0, 100.0, 100.0])
    buy = np.array([True, False, False])
    sell = np.array([False, True, False])
    out = exhaustion_targets(close, buy, sell, np.full(3, NAN), 10, 0.5, False)
    np.testing.assert_allclose(out, [0.5, 0.0, 0.0])
