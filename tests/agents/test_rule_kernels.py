"""Rule kernels on short hand-made series whose targets are worked out by hand in the comments."""

from __future__ import annotations

import numpy as np

from agents.rules.kernels import breakout_targets, exhaustion_targets, grid_targets, market_regime

NAN = np.nan


def _on(n: int) -> np.ndarray:
    return np.ones(n, dtype=np.bool_)


def test_grid_buys_a_unit_per_line_down_and_sells_with_one_line_of_hysteresis() -> None:
    # anchor 100, spacing 1, 2 levels, no stop: z = close - 100.
    close = np.array([100.0, 99.5, 98.9, 97.2, 96.0, 98.5, 99.6, 100.0, 101.2])
    anchor = np.full(close.shape, 100.0)
    spacing = np.ones_like(close)
    out = grid_targets(close, anchor, spacing, 2, 0.0, 1.0, True, _on(9), False)
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
    out = grid_targets(close, anchor, spacing, 2, 1.0, 0.5, True, _on(6), False)
    # bar1 u=2; bar2 stop u=0; bar3 still stopped; bar4 |z|=1.5<=2 re-arms, z<=-1 -> u=floor(1.5)=1;
    # bar5 z=-1: not <= -2, not >= 0 -> 1.  Target = u/2*0.5.
    np.testing.assert_allclose(out, [0.0, 0.5, 0.0, 0.0, 0.25, 0.25])


def test_grid_long_only_ignores_short_units() -> None:
    close = np.array([100.0, 101.5, 102.5])
    out = grid_targets(close, np.full(3, 100.0), np.ones(3), 2, 0.0, 1.0, False, _on(3), False)
    np.testing.assert_allclose(out, [0.0, 0.0, 0.0])


def test_breakout_enters_on_channel_break_and_exits_on_the_shorter_channel() -> None:
    close = np.array([10.0, 11.0, 12.5, 12.0, 10.5, 9.0, 8.0])
    entry_high = np.array([NAN, 11.5, 12.0, 13.0, 13.0, 13.0, 13.0])
    entry_low = np.array([NAN, 9.0, 9.0, 9.0, 9.0, 9.5, 9.5])
    exit_high = np.array([NAN, 11.5, 12.0, 12.8, 12.8, 12.8, 12.0])
    exit_low = np.array([NAN, 9.5, 10.0, 11.0, 11.0, 10.0, 9.0])
    size = np.array([NAN, 0.5, 0.5, 0.4, 0.4, 0.6, 0.6])
    out = breakout_targets(close, entry_high, entry_low, exit_high, exit_low, size, True, _on(7))
    # bar1: 11 within [9, 11.5] -> 0; bar2: 12.5 > 12 -> long 0.5; bar3: 12 >= exit low 11 -> long 0.4;
    # bar4: 10.5 < 11 -> exit, 10.5 > entry low 9 -> 0; bar5: 9.0 < 9.5 -> short 0.6; bar6: 8 < 12 -> short.
    np.testing.assert_allclose(out, [0.0, 0.0, 0.5, 0.4, 0.0, -0.6, -0.6])


def test_market_regime_keeps_the_last_regime_between_thresholds_and_is_flat_on_volatility_spikes() -> None:
    adx = np.array([NAN, 30.0, 22.0, 15.0, 22.0, 30.0])
    ratio = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 3.0])
    regime = market_regime(adx, ratio, 25.0, 20.0, 2.0)
    np.testing.assert_allclose(regime, [-1, 1, 1, 0, 0, -1])


def test_breakout_enters_only_on_a_fresh_breakout_after_an_inactive_spell() -> None:
    # Channels: entry 12/8, exit 11/9 throughout. The close breaks above 12 at bar 1 and stays above.
    close = np.array([10.0, 12.5, 13.0, 13.5, 12.6, 11.8, 12.8])
    channel = [np.full(7, v) for v in (12.0, 8.0, 11.0, 9.0)]
    size = np.full(7, 0.5)
    always = breakout_targets(close, *channel, size, True, _on(7))
    # Active throughout: long from bar 1 to the end (no close below the exit low 9).
    np.testing.assert_allclose(always, [0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5])
    active = np.array([True, False, False, True, True, True, True])
    gated = breakout_targets(close, *channel, size, True, active)
    # Inactive at bars 1-2 (the breakout bar): flat. Bar 3: 13.5 > 12 is a breakout on an active bar -> long;
    # bar 4 (12.6) stays long (above the exit low); bar 5 (11.8) stays long; bar 6 long.
    np.testing.assert_allclose(gated, [0, 0, 0, 0.5, 0.5, 0.5, 0.5])
    late = np.array([True, False, False, False, False, True, True])
    # Active again at bar 5: 11.8 is inside the entry channel -> flat (the open breakout is not adopted);
    # bar 6: 12.8 > 12 is a fresh breakout -> long.
    np.testing.assert_allclose(breakout_targets(close, *channel, size, True, late), [0, 0, 0, 0, 0, 0, 0.5])


def test_a_fresh_grid_trades_only_lines_crossed_after_it_starts() -> None:
    # anchor 100, spacing 1, 3 levels, no stop; active from bar 2. z = close - 100.
    close = np.array([97.5, 97.5, 97.4, 96.8, 97.9, 99.2, 100.5])
    anchor, spacing = np.full(7, 100.0), np.ones(7)
    active = np.array([False, False, True, True, True, True, True])
    fresh = grid_targets(close, anchor, spacing, 3, 0.0, 1.0, True, active, True)
    # Bar 2: z = -2.6; counting from line -2 (o = 2), flat. Bar 3: z = -3.2 <= -(0 + 2 + 1) -> u = 3 - 2 = 1.
    # Bar 4: z = -2.1 >= 1 - (1 + 2) = -2? no -> 1. Bar 5: z = -0.8 >= -2 -> u = ceil(0.8) - 2 = -1.
    # Bar 6: z = 0.5 >= 1 - (-1 + 2) = 0 -> u = ceil(-0.5) - 2 = -2.  Target = u / 3.
    np.testing.assert_allclose(fresh, np.array([0, 0, 0, 1, 1, -1, -2]) / 3.0)
    adopted = grid_targets(close, anchor, spacing, 3, 0.0, 1.0, True, active, False)
    # Counting from the anchor (o = 0) the grid holds floor(2.6) = 2 units at once on bar 2.
    np.testing.assert_allclose(adopted, np.array([0, 0, 2, 3, 3, 1, 0]) / 3.0)


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
