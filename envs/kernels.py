"""Numba kernels of the environments: action to target, one market step, reward, observation, reset.

``step_one`` is the one per-account step. The single env calls ``step_single`` (one account, few arguments:
the per-call cost is what limits a single env), the vector env ``step_accounts`` with N (its twin
``step_accounts_parallel``, compiled from the same function, spreads accounts over threads); the
per-account arithmetic is the same function, so N single envs and one vector env give identical
trajectories.

Arguments are packed so that a call passes few arrays: the constants (market-model parameters, env
parameters, risk limits, action levels, margin brackets) in one float64 array (``pack_constants``, offsets
``C_*``), and the env's own per-account rows after the account's: the episode-start stream (``EnvInt``)
and the reward's running moments (``EnvFloat``). The core sim state holds nothing of the RL reward.

Episode starts come from a per-account splitmix64 stream, seeded from the reset seed, so the sequence of
episodes of account ``i`` does not depend on how many accounts are stepped together.
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from numba import njit, prange

from asterrl.observation import write_observation
from asterrl.risk.limits import N_LIMITS
from asterrl.sim.account import advance_account, open_account
from asterrl.sim.instrument import BRACKET_COLUMNS
from asterrl.sim.layout import N_REPORT, N_SIM_PARAMS, Account, Counter, Market, Report
from envs.layout import (
    C_ENV,
    C_LEVELS,
    C_LIMITS,
    C_PARAMS,
    F_REWARD_A,
    F_REWARD_B,
    I_RNG,
    N_ENV_FLOAT_STATE,
    N_ENV_INT_STATE,
    N_ENV_PARAMS,
    EnvParam,
)
from envs.reward import step_reward

#: Largest amount a continuous action may exceed [-1, 1] by (float32 rounding) before it is refused.
_ACTION_SLACK = 1e-6

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


def pack_constants(
    params: npt.NDArray[np.float64],
    env: npt.NDArray[np.float64],
    limits: npt.NDArray[np.float64],
    levels: npt.NDArray[np.float64],
    brackets: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """One float64 array holding every constant a step reads (offsets ``C_*``; counts in ``env``)."""
    env = env.copy()
    env[EnvParam.N_LEVELS] = levels.shape[0]
    env[EnvParam.N_BRACKETS] = brackets.shape[0]
    return np.ascontiguousarray(np.concatenate([params, env, limits, levels, brackets.reshape(-1)]))


@njit(cache=True)
def unpack_constants(
    consts: npt.NDArray[np.float64],
) -> tuple[
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
]:
    """``(params, env, limits, levels, brackets)`` views of a ``pack_constants`` array."""
    env = consts[C_ENV : C_ENV + N_ENV_PARAMS]
    n_levels, n_brackets = int(env[EnvParam.N_LEVELS]), int(env[EnvParam.N_BRACKETS])
    start = C_LEVELS + n_levels
    brackets = consts[start : start + BRACKET_COLUMNS * n_brackets].reshape((n_brackets, BRACKET_COLUMNS))
    return (
        consts[C_PARAMS : C_PARAMS + N_SIM_PARAMS],
        env,
        consts[C_LIMITS : C_LIMITS + N_LIMITS],
        consts[C_LEVELS : C_LEVELS + n_levels],
        brackets,
    )


def new_env_state(n_accounts: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Zeroed ``(fstate, istate)`` for ``n_accounts``: the account's rows plus the env's own."""
    return (
        np.zeros((N_ENV_FLOAT_STATE, n_accounts), dtype=np.float64),
        np.zeros((N_ENV_INT_STATE, n_accounts), dtype=np.int64),
    )


@njit(cache=True)
def next_random(istate: npt.NDArray[np.int64], i: int) -> np.uint64:
    """Next 64-bit draw of account ``i``'s splitmix64 stream (state kept as int64 bits in ``I_RNG``)."""
    z = np.uint64(istate[I_RNG, i]) + _GOLDEN
    istate[I_RNG, i] = np.int64(z)
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@njit(cache=True)
def _write_obs(
    i: int,
    row: npt.NDArray[np.float32],
    fstate: npt.NDArray[np.float64],
    istate: npt.NDArray[np.int64],
    market: npt.NDArray[np.float64],
    features_flat: npt.NDArray[np.float32],
    env: npt.NDArray[np.float64],
    brackets: npt.NDArray[np.float64],
) -> None:
    bar = istate[Counter.BAR, i]
    write_observation(
        row,
        features_flat,
        int(env[EnvParam.N_FEATURES]),
        bar,
        int(env[EnvParam.WINDOW]),
        fstate[Account.QTY, i],
        fstate[Account.ENTRY, i],
        fstate[Account.WALLET, i],
        market[bar, Market.VALUE_CLOSE],
        brackets,
        istate[Counter.BARS_SINCE_TRADE, i],
        market[bar, Market.HOURS_TO_FUNDING],
        market[bar, Market.LAST_FUNDING_RATE],
    )


@njit(cache=True)
def reset_one(
    i: int,
    start_bar: int,
    fstate: npt.NDArray[np.float64],
    istate: npt.NDArray[np.int64],
    market: npt.NDArray[np.float64],
    env: npt.NDArray[np.float64],
) -> None:
    """Open a new episode for account ``i`` at decision bar ``start_bar``; < 0 draws it (or takes the
    split's first bar without ``random_start``). The reward's moments restart at zero."""
    lo, hi = np.int64(env[EnvParam.START_LO]), np.int64(env[EnvParam.START_HI])
    start = np.int64(start_bar)
    if start < 0:
        start = lo
        if env[EnvParam.RANDOM_START] > 0.0 and hi > lo:
            start = lo + np.int64(next_random(istate, i) % np.uint64(hi - lo + 1))
    length = np.int64(env[EnvParam.EPISODE_LENGTH])
    split_end = np.int64(env[EnvParam.SPLIT_END])
    end = min(start + length, split_end) if length > 0 else split_end
    open_account(i, int(start), int(end), env[EnvParam.INITIAL_BALANCE], fstate, istate, market)
    fstate[F_REWARD_A, i] = 0.0
    fstate[F_REWARD_B, i] = 0.0


@njit(cache=True)
def target_quantity(
    i: int,
    action: float,
    fstate: npt.NDArray[np.float64],
    istate: npt.NDArray[np.int64],
    market: npt.NDArray[np.float64],
    env: npt.NDArray[np.float64],
    levels: npt.NDArray[np.float64],
) -> float:
    """Wanted position (base asset) from an action: a fraction of ``scale * equity`` at the decision close.

    The deadband and the minimum holding period keep the current position instead (the risk gate may
    still trim it). An action outside the action space (NaN, inf, a discrete index that is not one of the
    levels, a continuous value beyond [-1, 1]) gives NaN, which the gate refuses: no order is sent.
    """
    t = istate[Counter.BAR, i]
    qty, equity = fstate[Account.QTY, i], fstate[Account.EQUITY, i]
    if not math.isfinite(action):
        return math.nan
    if env[EnvParam.DISCRETE] > 0.0:
        if action != math.floor(action) or action < 0.0 or action >= levels.shape[0]:
            return math.nan
        fraction = levels[np.int64(action)]
    else:
        if abs(action) > 1.0 + _ACTION_SLACK:
            return math.nan
        fraction = min(max(action, -1.0), 1.0)
    if equity <= 0.0:
        return 0.0
    scale = env[EnvParam.POSITION_SCALE]
    current = qty * market[t, Market.VALUE_CLOSE] / (scale * equity)
    if abs(fraction - current) < env[EnvParam.DEADBAND]:
        return qty
    if qty != 0.0 and istate[Counter.BARS_SINCE_TRADE, i] + 1 < env[EnvParam.MIN_HOLD]:  # held = since + 1
        return qty
    return fraction * scale * equity / market[t, Market.CLOSE]


@njit(cache=True)
def step_one(
    i: int,
    action: float,
    fstate: npt.NDArray[np.float64],
    istate: npt.NDArray[np.int64],
    market: npt.NDArray[np.float64],
    features_flat: npt.NDArray[np.float32],
    params: npt.NDArray[np.float64],
    env: npt.NDArray[np.float64],
    levels: npt.NDArray[np.float64],
    brackets: npt.NDArray[np.float64],
    limits: npt.NDArray[np.float64],
    obs_row: npt.NDArray[np.float32],
    report: npt.NDArray[np.float64],
    final_row: npt.NDArray[np.float32],
) -> None:
    """One environment step of account ``i`` (next-step autoreset when its episode had ended)."""
    if istate[Counter.DONE, i] != 0:
        reset_one(i, -1, fstate, istate, market, env)
        _write_obs(i, obs_row, fstate, istate, market, features_flat, env, brackets)
        for slot in range(report.shape[0]):
            report[slot] = 0.0
        bar = istate[Counter.BAR, i]
        report[Report.AUTORESET] = 1.0
        report[Report.EQUITY] = fstate[Account.EQUITY, i]
        report[Report.WALLET_BALANCE] = fstate[Account.WALLET, i]
        report[Report.BAR] = bar
        report[Report.TIMESTAMP] = market[bar, Market.TIMESTAMP]
        return
    target = target_quantity(i, action, fstate, istate, market, env, levels)
    limit_price = 0.0
    qty = fstate[Account.QTY, i]
    if env[EnvParam.LIMIT_ORDERS] > 0.0 and target != qty and math.isfinite(target):
        side = 1.0 if target > qty else -1.0
        limit_price = market[istate[Counter.BAR, i], Market.CLOSE] * (1.0 - side * env[EnvParam.LIMIT_OFFSET])
    prev_equity = fstate[Account.EQUITY, i]
    advance_account(i, target, limit_price, fstate, istate, market, params, brackets, limits, report)
    report[Report.REWARD] = step_reward(i, prev_equity, fstate, env, report[Report.TRADED_NOTIONAL])
    _write_obs(i, obs_row, fstate, istate, market, features_flat, env, brackets)
    if istate[Counter.DONE, i] != 0 and env[EnvParam.SAME_STEP] > 0.0:
        for j in range(obs_row.shape[0]):  # a loop vectorises; numba's slice assignment does not
            final_row[j] = obs_row[j]
        reset_one(i, -1, fstate, istate, market, env)
        _write_obs(i, obs_row, fstate, istate, market, features_flat, env, brackets)
        report[Report.AUTORESET] = 1.0


#: Offsets in a single env's one state array: float state, report, int state (int64 bits), then the
#: packed constants. One array makes the per-step call cheap: the numba dispatcher spends about 0.1 us
#: typing each array argument, a sizeable part of a single env's step.
SINGLE_REPORT = N_ENV_FLOAT_STATE
SINGLE_INT = SINGLE_REPORT + N_REPORT
SINGLE_CONSTS = SINGLE_INT + N_ENV_INT_STATE


def new_single_state(
    consts: npt.NDArray[np.float64],
) -> tuple[
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.int64],
    npt.NDArray[np.float64],
]:
    """``(state, fstate, report, istate, consts)`` of a single env: one zeroed float64 array holding a
    copy of ``consts``, and its views in the layouts the other kernels take (one account column)."""
    state = np.zeros(SINGLE_CONSTS + consts.shape[0], dtype=np.float64)
    state[SINGLE_CONSTS:] = consts
    return (
        state,
        state[:SINGLE_REPORT].reshape(-1, 1),
        state[SINGLE_REPORT:SINGLE_INT],
        state[SINGLE_INT:SINGLE_CONSTS].view(np.int64).reshape(-1, 1),
        state[SINGLE_CONSTS:],
    )


@njit(cache=True)
def step_single(
    action: float,
    state: npt.NDArray[np.float64],
    market: npt.NDArray[np.float64],
    features_flat: npt.NDArray[np.float32],
    obs: npt.NDArray[np.float32],
) -> None:
    """One step of a single env whose ``state`` is laid out by ``new_single_state``."""
    params, env, limits, levels, brackets = unpack_constants(state[SINGLE_CONSTS:])
    step_one(
        0,
        action,
        state[:SINGLE_REPORT].reshape((SINGLE_REPORT, 1)),
        state[SINGLE_INT:SINGLE_CONSTS].view(np.int64).reshape((N_ENV_INT_STATE, 1)),
        market,
        features_flat,
        params,
        env,
        levels,
        brackets,
        limits,
        obs,
        state[SINGLE_REPORT:SINGLE_INT],
        obs,
    )


def _step_all(
    actions: npt.NDArray[np.float64],
    fstate: npt.NDArray[np.float64],
    istate: npt.NDArray[np.int64],
    market: npt.NDArray[np.float64],
    features_flat: npt.NDArray[np.float32],
    consts: npt.NDArray[np.float64],
    obs: npt.NDArray[np.float32],
    report: npt.NDArray[np.float64],
    final_obs: npt.NDArray[np.float32],
) -> None:
    """Step every account; ``report[Report.*, i]`` is account ``i``'s. Compiled twice (see below)."""
    params, env, limits, levels, brackets = unpack_constants(consts)
    for i in prange(actions.shape[0]):
        step_one(
            i,
            actions[i],
            fstate,
            istate,
            market,
            features_flat,
            params,
            env,
            levels,
            brackets,
            limits,
            obs[i],
            report[:, i],
            final_obs[i],
        )


def _compiled_as(function: Callable[..., Any], name: str, parallel: bool) -> Any:
    """``function`` compiled under its own ``name``: numba names its cache files after a function's
    qualified name and line, and its cache index does not tell serial from parallel builds, so two builds
    of one Python function would load each other's machine code."""
    twin = types.FunctionType(function.__code__, function.__globals__, name, function.__defaults__)
    twin.__qualname__ = name
    twin.__doc__ = function.__doc__
    return njit(cache=True, parallel=parallel)(twin)


#: Serial: accounts in order on the calling thread. Parallel: ``prange`` spreads them over numba's threads
#: (results identical: accounts share no state).
step_accounts = _compiled_as(_step_all, "step_accounts", parallel=False)
step_accounts_parallel = _compiled_as(_step_all, "step_accounts_parallel", parallel=True)


@njit(cache=True)
def reset_accounts(
    which: npt.NDArray[np.bool_],
    reseed: npt.NDArray[np.bool_],
    seeds: npt.NDArray[np.uint64],
    starts: npt.NDArray[np.int64],
    fstate: npt.NDArray[np.float64],
    istate: npt.NDArray[np.int64],
    market: npt.NDArray[np.float64],
    features_flat: npt.NDArray[np.float32],
    consts: npt.NDArray[np.float64],
    obs: npt.NDArray[np.float32],
) -> None:
    """Reset the accounts in ``which`` at ``starts[i]`` (< 0: drawn); those in ``reseed`` first restart
    their stream at ``seeds[i]``."""
    _, env, _, _, brackets = unpack_constants(consts)
    for i in range(which.shape[0]):
        if which[i]:
            if reseed[i]:
                istate[I_RNG, i] = np.int64(seeds[i])
            reset_one(i, starts[i], fstate, istate, market, env)
            _write_obs(i, obs[i], fstate, istate, market, features_flat, env, brackets)
