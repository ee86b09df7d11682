"""Slots of the env's own arrays (the same pattern as ``asterrl.sim.layout``): env parameters, the env's
per-account rows kept after the account's, and the offsets of the packed constants.
"""

from __future__ import annotations

from enum import auto

from asterrl.risk.limits import N_LIMITS
from asterrl.sim.layout import N_FLOAT_STATE, N_INT_STATE, N_SIM_PARAMS, Slots


class EnvParam(Slots):
    """Slots of the float64 env-parameter array."""

    INITIAL_BALANCE = auto()
    POSITION_SCALE = auto()  # leverage that an action of 1.0 targets (risk.max_leverage)
    DEADBAND = auto()
    MIN_HOLD = auto()
    DISCRETE = auto()
    REWARD_KIND = auto()  # 0 log return, 1 differential Sharpe
    DSR_ETA = auto()
    DRAWDOWN_PENALTY = auto()
    TURNOVER_PENALTY = auto()
    REWARD_SCALE = auto()
    WINDOW = auto()
    N_FEATURES = auto()
    EPISODE_LENGTH = auto()  # 0: to the end of the split
    START_LO = auto()  # first decision bar an episode may start on
    START_HI = auto()  # last one a random start draws
    SPLIT_END = auto()  # last bar of the split
    RANDOM_START = auto()
    SAME_STEP = auto()  # 1: autoreset in the same step
    LIMIT_ORDERS = auto()
    LIMIT_OFFSET = auto()  # fraction of price
    N_LEVELS = auto()  # discrete action levels packed in the constants
    N_BRACKETS = auto()  # margin bracket rows packed in the constants


class EnvFloat(Slots):
    """The env's float rows after the account's (``N_FLOAT_STATE + EnvFloat.*``): the reward's state."""

    REWARD_A = auto()  # differential Sharpe: EMA of returns
    REWARD_B = auto()  # differential Sharpe: EMA of squared returns


class EnvInt(Slots):
    """The env's int rows after the account's (``N_INT_STATE + EnvInt.*``)."""

    RNG = auto()  # the episode-start stream (splitmix64 state, int64 bits)


N_ENV_PARAMS = len(EnvParam)
N_ENV_FLOAT_STATE = N_FLOAT_STATE + len(EnvFloat)
N_ENV_INT_STATE = N_INT_STATE + len(EnvInt)
F_REWARD_A = N_FLOAT_STATE + EnvFloat.REWARD_A
F_REWARD_B = N_FLOAT_STATE + EnvFloat.REWARD_B
I_RNG = N_INT_STATE + EnvInt.RNG

# Offsets of the packed constants: params | env | limits | levels | brackets (rows of BRACKET_COLUMNS).
C_PARAMS = 0
C_ENV = C_PARAMS + N_SIM_PARAMS
C_LIMITS = C_ENV + N_ENV_PARAMS
C_LEVELS = C_LIMITS + N_LIMITS
