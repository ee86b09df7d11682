"""The stop rules of ``asterrl.risk.stops``, worked by hand on a few closes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from asterrl.errors import ConfigError
from asterrl.risk.limits import RiskLimits
from asterrl.risk.stops import (
    StopReason,
    StopState,
    new_stop_state,
    stop_array,
    stopped_target,
    update_stop_state,
)


def _opened(entry: float, bar: int = 10, atr: float = 0.0, qty_after: float = 1.0) -> np.ndarray:
    state = new_stop_state(1)
    update_stop_state(0.0, qty_after, entry, bar, atr, state, 0)
    return state


def _run(limits: RiskLimits, state: np.ndarray, qty: float, entry: float, closes: list[float], start: int):
    """Decisions on ``closes`` at bars start, start+1, ...; returns the reason of each (the position held)."""
    stops = stop_array(limits)
    return [stopped_target(qty, qty, entry, c, start + j, state, 0, stops)[1] for j, c in enumerate(closes)]


def test_fixed_stop_and_take_profit_fire_at_their_prices_on_both_sides() -> None:
    limits = RiskLimits(stop_loss=0.05, take_profit=0.10)
    # long from 100: 95.01 holds, 95.00 (5 % against) stops; 110 (10 % for) takes profit
    assert _run(limits, _opened(100.0), 1.0, 100.0, [99.0, 95.01, 95.0], 10)[1:] == [
        StopReason.NONE,
        StopReason.STOP_LOSS,
    ]
    assert _run(limits, _opened(100.0), 1.0, 100.0, [109.99, 110.0], 10) == [
        StopReason.NONE,
        StopReason.TAKE_PROFIT,
    ]
    # short from 200: stop at 210, target at 180
    short = _opened(200.0, qty_after=-2.0)
    assert _run(limits, short, -2.0, 200.0, [209.0, 210.0], 10) == [StopReason.NONE, StopReason.STOP_LOSS]
    short = _opened(200.0, qty_after=-2.0)
    assert _run(limits, short, -2.0, 200.0, [181.0, 180.0], 10) == [StopReason.NONE, StopReason.TAKE_PROFIT]


def test_trailing_stop_follows_the_best_close_and_atr_stop_uses_the_entry_atr() -> None:
    limits = RiskLimits(trailing_stop=0.10)
    state = _opened(100.0)
    # best close 120: the stop trails to 108; 108.5 holds, 108 fires
    reasons = _run(limits, state, 1.0, 100.0, [110.0, 120.0, 115.0, 108.5, 108.0], 10)
    assert reasons == [StopReason.NONE] * 4 + [StopReason.TRAILING_STOP]
    assert state[StopState.BEST_CLOSE, 0] == 120.0
    limits = RiskLimits(stop_atr=2.0)
    state = _opened(100.0, atr=3.0)  # stop 2 x 3 = 6 below the entry
    assert _run(limits, state, 1.0, 100.0, [95.0, 94.0], 10) == [StopReason.NONE, StopReason.STOP_ATR]


def test_time_stop_closes_after_the_held_bars_and_the_side_stays_flat_until_the_policy_leaves_it() -> None:
    limits = RiskLimits(time_stop_bars=3)
    state = _opened(100.0, bar=10)  # filled at bar 10's open: held 1 bar at decision 10, 3 at decision 12
    stops = stop_array(limits)
    assert stopped_target(1.0, 1.0, 100.0, 100.0, 11, state, 0, stops) == (1.0, StopReason.NONE)
    assert stopped_target(1.0, 1.0, 100.0, 100.0, 12, state, 0, stops) == (0.0, StopReason.TIME_STOP)
    update_stop_state(1.0, 0.0, 0.0, 13, math.nan, state, 0)
    # the policy still wants long: held flat; it goes flat: released; it wants long again: it gets it
    assert stopped_target(1.5, 0.0, 0.0, 100.0, 13, state, 0, stops) == (0.0, StopReason.HELD_FLAT)
    assert stopped_target(0.0, 0.0, 0.0, 100.0, 14, state, 0, stops) == (0.0, StopReason.NONE)
    assert stopped_target(1.5, 0.0, 0.0, 100.0, 15, state, 0, stops) == (1.5, StopReason.NONE)
    # the other side right after a stop passes at once
    state = _opened(100.0, bar=10)
    assert stopped_target(1.0, 1.0, 100.0, 100.0, 12, state, 0, stops)[1] == StopReason.TIME_STOP
    update_stop_state(1.0, 0.0, 0.0, 13, math.nan, state, 0)
    assert stopped_target(-1.0, 0.0, 0.0, 100.0, 13, state, 0, stops) == (-1.0, StopReason.NONE)


def test_no_stop_is_on_by_default_and_bad_settings_name_their_key() -> None:
    assert np.isinf(stop_array(RiskLimits())).all()
    state = _opened(100.0)
    assert _run(RiskLimits(), state, 1.0, 100.0, [1.0, 1000.0], 10) == [StopReason.NONE] * 2
    for key, value in (("stop_loss", 0.0), ("trailing_stop", -0.1), ("time_stop_bars", 2.5)):
        with pytest.raises(ConfigError, match=rf"risk\.{key}"):
            RiskLimits(**{key: value}).validate()
    with pytest.raises(ConfigError, match=r"risk\.stop_atr_period"):
        RiskLimits(stop_atr_period=0).validate()
