"""Position exits on top of any policy: fixed stop, ATR stop, trailing stop, take-profit and time stop.

The stops are risk settings (``RiskLimits.stop_loss`` and the fields after it) applied by one numba rule,
``stopped_target``, to the target position a policy wants, before the risk gate sees it: the backtester
calls it on every decision, and the env's step and the live bridge can call the same function with the same
array (``stop_array``). Each stop is checked on the decision bar's last-trade close (what the decision
sees); a stop that fires sets the target flat, so the exit is a reduce-only market order at the next bar's
open through the gate and the market model like any other order (a gap past the stop fills at the open).

After a stop the position stays flat while the policy still wants the side that was stopped: a new
position on that side needs the policy to go flat or turn first (a fresh signal), as a stop order on an
exchange leaves the position closed whatever the strategy keeps saying.

Per-account state (``StopState`` rows, one column per account) is kept by the caller and updated after
each bar by ``update_stop_state``.
"""

from __future__ import annotations

import math
from enum import auto

import numpy as np
import numpy.typing as npt
from numba import njit

from asterrl.risk.limits import RiskLimits
from asterrl.sim.layout import Slots


class Stop(Slots):
    """Slots of the float64 stop-settings array (``stop_array``); ``inf`` switches a stop off."""

    STOP_LOSS = auto()  # adverse move from the average entry price, fraction of it
    STOP_ATR = auto()  # adverse move from the entry, in ATRs known at the entry decision
    TRAILING_STOP = auto()  # fall from the best close since entry, fraction of that close
    TAKE_PROFIT = auto()  # favourable move from the average entry price, fraction of it
    TIME_STOP_BARS = auto()  # bars a position is held at most


class StopState(Slots):
    """Per-account rows the stops keep between bars."""

    ENTRY_BAR = auto()  # bar at whose open the position was opened
    BEST_CLOSE = auto()  # highest close since entry for a long, lowest for a short, USDT
    ENTRY_ATR = auto()  # ATR at the decision that opened the position, USDT
    LOCKED_SIDE = auto()  # +1 / -1: the side a stop closed, held flat until the policy leaves it; else 0


class StopReason(Slots):
    """Why ``stopped_target`` closed a position (0: it did not)."""

    NONE = auto()
    STOP_LOSS = auto()
    STOP_ATR = auto()
    TRAILING_STOP = auto()
    TAKE_PROFIT = auto()
    TIME_STOP = auto()
    HELD_FLAT = auto()  # flat after an earlier stop while the policy still wants the stopped side


#: ``StopReason`` values as plain ints (numba stores them in float arrays).
_NONE, _STOP_LOSS, _STOP_ATR, _TRAILING, _TAKE_PROFIT, _TIME_STOP, _HELD_FLAT = (int(r) for r in StopReason)
N_STOPS = len(Stop)
N_STOP_STATE = len(StopState)
#: Names of ``StopReason`` values, lower case (``STOP_REASONS[reason]``).
STOP_REASONS: tuple[str, ...] = tuple(member.name.lower() for member in StopReason)


def new_stop_state(n_accounts: int) -> npt.NDArray[np.float64]:
    """Stop state of ``n_accounts`` flat accounts (``StopState`` rows)."""
    return np.zeros((N_STOP_STATE, n_accounts), dtype=np.float64)


@njit(cache=True)
def stop_exit(
    qty: float,
    entry: float,
    close: float,
    bar: int,
    state: npt.NDArray[np.float64],
    i: int,
    stops: npt.NDArray[np.float64],
) -> int:
    """The ``StopReason`` that closes position ``qty`` (base asset) of account ``i`` at decision ``bar``
    whose close is ``close`` (USDT), or ``NONE``. Updates the best close since entry first."""
    if qty == 0.0 or not entry > 0.0:
        return _NONE
    side = 1.0 if qty > 0.0 else -1.0
    best = state[StopState.BEST_CLOSE, i]
    best = max(best, close) if side > 0.0 else min(best, close)
    state[StopState.BEST_CLOSE, i] = best
    adverse = side * (entry - close)  # > 0: the price moved against the position, USDT
    if adverse >= stops[Stop.STOP_LOSS] * entry:
        return _STOP_LOSS
    atr = state[StopState.ENTRY_ATR, i]
    if math.isfinite(stops[Stop.STOP_ATR]) and atr > 0.0 and adverse >= stops[Stop.STOP_ATR] * atr:
        return _STOP_ATR
    if side * (best - close) >= stops[Stop.TRAILING_STOP] * best:
        return _TRAILING
    if -adverse >= stops[Stop.TAKE_PROFIT] * entry:
        return _TAKE_PROFIT
    if bar - state[StopState.ENTRY_BAR, i] + 1.0 >= stops[Stop.TIME_STOP_BARS]:
        return _TIME_STOP
    return _NONE


@njit(cache=True)
def stopped_target(
    wanted: float,
    qty: float,
    entry: float,
    close: float,
    bar: int,
    state: npt.NDArray[np.float64],
    i: int,
    stops: npt.NDArray[np.float64],
) -> tuple[float, int]:
    """``(target, reason)``: the policy's ``wanted`` position (base asset) after the stops of account ``i``.

    A stop that fires, or a side still held flat after one, gives target 0; otherwise ``wanted`` passes
    unchanged (a NaN one too: the gate refuses it). Wanting flat or the other side releases the hold.
    """
    locked = state[StopState.LOCKED_SIDE, i]
    if locked != 0.0 and math.isfinite(wanted):
        if wanted * locked > 0.0:
            return 0.0, _HELD_FLAT
        state[StopState.LOCKED_SIDE, i] = 0.0
    reason = stop_exit(qty, entry, close, bar, state, i, stops)
    if reason == _NONE:
        return wanted, _NONE
    state[StopState.LOCKED_SIDE, i] = 1.0 if qty > 0.0 else -1.0
    return 0.0, reason


@njit(cache=True)
def update_stop_state(
    qty_before: float,
    qty_after: float,
    entry_after: float,
    fill_bar: int,
    atr: float,
    state: npt.NDArray[np.float64],
    i: int,
) -> None:
    """Record a position opened (or flipped) at ``fill_bar``'s open at average price ``entry_after`` with
    ``atr`` (USDT) known at its decision; forget it when the account is flat."""
    if qty_after == 0.0:
        state[StopState.ENTRY_BAR, i] = 0.0
        state[StopState.BEST_CLOSE, i] = 0.0
        state[StopState.ENTRY_ATR, i] = 0.0
        return
    if qty_before == 0.0 or qty_before * qty_after < 0.0:
        state[StopState.ENTRY_BAR, i] = fill_bar
        state[StopState.BEST_CLOSE, i] = entry_after
        state[StopState.ENTRY_ATR, i] = atr if math.isfinite(atr) else 0.0


def stop_array(limits: RiskLimits) -> npt.NDArray[np.float64]:
    """The stop settings of ``limits`` as the float64 array ``stopped_target`` reads (slots ``Stop``)."""
    return np.array([float(getattr(limits, member.name.lower())) for member in Stop], dtype=np.float64)


def stops_active(limits: RiskLimits) -> bool:
    """Whether any stop of ``limits`` is on."""
    return bool(np.isfinite(stop_array(limits)).any())
