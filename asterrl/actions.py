"""The one action rule: a policy's action at a bar's close becomes a target position (base asset).

A discrete action indexes ``levels``, a continuous one is the level itself; a level is a fraction of
``position_scale * equity``, valued at the decision close. Inside the deadband, or while a position is held
for fewer than ``min_hold_bars``, the target is the current position (no order; the risk gate may still
trim). An action outside the action space (NaN, inf, an index that is not a level, a continuous value
beyond [-1, 1]) gives NaN, which the risk gate refuses: nothing is sent.

The live bridge calls :func:`target_position` with the manifest's action rule; the environments apply the
same arithmetic in their numba step (``envs.kernels.target_quantity``), and the replay-parity test checks
the two agree bar for bar.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

#: Largest amount a continuous action may exceed [-1, 1] by (float32 rounding) before it is refused.
ACTION_SLACK = 1e-6


@njit(cache=True)
def target_position(
    action: float,
    qty: float,
    equity: float,
    value_close: float,
    close: float,
    bars_since_trade: int,
    discrete: bool,
    levels: npt.NDArray[np.float64],
    position_scale: float,
    deadband: float,
    min_hold_bars: int,
) -> float:
    """Wanted signed position, base asset (NaN for an action outside the action space).

    :param action: the policy's action (an index for discrete actions).
    :param qty: signed position now, base asset.
    :param equity: equity at the decision close (wallet + unrealised PnL at ``value_close``), USDT.
    :param value_close: valuation (mark) close of the decision bar, USDT.
    :param close: last-trade close of the decision bar, USDT (the target's price).
    :param bars_since_trade: bars since the last fill (0 on the bar of a fill).
    """
    if not math.isfinite(action):
        return math.nan
    if discrete:
        if action != math.floor(action) or action < 0.0 or action >= levels.shape[0]:
            return math.nan
        fraction = levels[np.int64(action)]
    else:
        if abs(action) > 1.0 + ACTION_SLACK:
            return math.nan
        fraction = min(max(action, -1.0), 1.0)
    if equity <= 0.0:
        return 0.0
    current = qty * value_close / (position_scale * equity)
    if abs(fraction - current) < deadband:
        return qty
    if qty != 0.0 and bars_since_trade + 1 < min_hold_bars:  # bars held = bars since the fill + 1
        return qty
    return fraction * position_scale * equity / close
