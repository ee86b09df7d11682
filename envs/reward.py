"""The RL reward of one step: log return or differential Sharpe ratio, minus drawdown and turnover penalties.

The differential Sharpe ratio's running moments are the env's own state (rows ``F_REWARD_A``/``F_REWARD_B``
after the account's), not the market model's.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

from asterrl.sim.layout import Account
from envs.layout import F_REWARD_A, F_REWARD_B, EnvParam


@njit(cache=True)
def step_reward(
    i: int, prev_equity: float, fstate: npt.NDArray[np.float64], env: npt.NDArray[np.float64], traded: float
) -> float:
    """Reward of one step from the equity change (log or differential Sharpe) minus the penalties.

    Differential Sharpe (Moody and Saffell): with ``A``, ``B`` the EMAs of the return ``R`` and of ``R^2``,
    ``D = (B dA - A dB / 2) / (B - A^2)^1.5`` (0 while the variance is below 1e-12, clipped to +-10), then
    ``A += eta dA``, ``B += eta dB``. The drawdown penalty is taken on the drawdown from the peak after the
    step, the turnover penalty on the traded notional over the equity before it.
    """
    equity = fstate[Account.EQUITY, i]
    floor = 1e-9 * fstate[Account.INITIAL_EQUITY, i]
    base = max(prev_equity, floor)
    if env[EnvParam.REWARD_KIND] == 0.0:
        reward = math.log(max(equity, floor) / base)
    else:
        ret = equity / base - 1.0
        a, b = fstate[F_REWARD_A, i], fstate[F_REWARD_B, i]
        da, db = ret - a, ret * ret - b
        variance = b - a * a
        reward = (b * da - 0.5 * a * db) / variance**1.5 if variance > 1e-12 else 0.0
        reward = min(max(reward, -10.0), 10.0)
        eta = env[EnvParam.DSR_ETA]
        fstate[F_REWARD_A, i] = a + eta * da
        fstate[F_REWARD_B, i] = b + eta * db
    peak = fstate[Account.PEAK_EQUITY, i]
    if peak > 0.0:
        reward -= env[EnvParam.DRAWDOWN_PENALTY] * max(peak - equity, 0.0) / peak
    reward -= env[EnvParam.TURNOVER_PENALTY] * traded / base
    return reward * env[EnvParam.REWARD_SCALE]
