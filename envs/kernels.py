"""Numba kernels of the environments: action to target, one market step, reward, observation, reset.

``step_one`` is the one per-account step. The single env calls ``step_single`` (one account, few arguments:
the per-call cost is what limits a single env), the vector env ``step_accounts`` with N
(``step_accounts_parallel`` spreads accounts over threads); the per-account arithmetic is the same function,
so N single envs and one vector env give identical trajectories.

Arguments are packed so that a call passes few arrays: the constants (market-model parameters, env
parameters, risk limits, action levels, margin brackets) in one float64 array (``pack_constants``, slots
``C_*``), and the env's episode-start stream as an extra row ``I_RNG`` of the int state.

Episode starts come from a per-account splitmix64 stream, seeded from the reset seed, so the sequence of
episodes of account ``i`` does not depend on how many accounts are stepped together.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit, prange

from asterrl.observation import write_observation
from asterrl.risk.limits import N_LIMITS
from asterrl.sim import layout as L
from asterrl.sim.account import advance_account, open_account

# Slots of the float64 env-parameter array.
E_INITIAL_BALANCE = 0
E_POSITION_SCALE = 1  # leverage that an action of 1.0 targets
E_DEADBAND = 2
E_MIN_HOLD = 3
E_DISCRETE = 4
E_REWARD_KIND = 5  # 0 log return, 1 differential Sharpe
E_DSR_ETA = 6
E_DRAWDOWN_PENALTY = 7
E_TURNOVER_PENALTY = 8
E_REWARD_SCALE = 9
E_WINDOW = 10
E_N_FEATURES = 11
E_EPISODE_LENGTH = 12  # 0: to the end of the split
E_START_LO = 13  # first decision bar an episode may start on
E_START_HI = 14  # last one a random start draws
E_SPLIT_END = 15  # last bar of the split
E_RANDOM_START = 16
E_SAME_STEP = 17  # 1: autoreset in the same step
E_LIMIT_ORDERS = 18
E_LIMIT_OFFSET = 19  # fraction of price
E_N_LEVELS = 20  # discrete action levels packed in the constants
E_N_BRACKETS = 21  # margin bracket rows packed in the constants
N_ENV_PARAMS = 22

# Offsets of the packed constants: params | env | limits | levels | brackets (rows of 5).
C_PARAMS = 0
C_ENV = C_PARAMS + L.N_SIM_PARAMS
C_LIMITS = C_ENV + N_ENV_PARAMS
C_LEVELS = C_LIMITS + N_LIMITS
BRACKET_COLUMNS = 5

# The env's row of the int state after the account's: its episode-start stream (splitmix64, int64 bits).
I_RNG = L.N_INT_STATE
N_ENV_INT_STATE = L.N_INT_STATE + 1

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
    env[E_N_LEVELS] = levels.shape[0]
    env[E_N_BRACKETS] = brackets.shape[0]
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
    n_levels, n_brackets = int(env[E_N_LEVELS]), int(env[E_N_BRACKETS])
    start = C_LEVELS + n_levels
    brackets = consts[start : start + BRACKET_COLUMNS * n_brackets].reshape((n_brackets, BRACKET_COLUMNS))
    return (
        consts[C_PARAMS : C_PARAMS + L.N_SIM_PARAMS],
        env,
        consts[C_LIMITS : C_LIMITS + N_LIMITS],
        consts[C_LEVELS : C_LEVELS + n_levels],
        brackets,
    )


def new_env_state(n_accounts: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Zeroed ``(fstate, istate)`` for ``n_accounts``: the account's rows plus the env's ``I_RNG``."""
    return (
        np.zeros((L.N_FLOAT_STATE, n_accounts), dtype=np.float64),
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
    bar = istate[L.I_BAR, i]
    write_observation(
        row,
        features_flat,
        int(env[E_N_FEATURES]),
        bar,
        int(env[E_WINDOW]),
        fstate[L.S_QTY, i],
        fstate[L.S_ENTRY, i],
        fstate[L.S_WALLET, i],
        market[bar, L.M_VALUE_CLOSE],
        brackets,
        istate[L.I_BARS_SINCE_TRADE, i],
        market[bar, L.M_HOURS_TO_FUNDING],
        market[bar, L.M_LAST_FUNDING_RATE],
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
    split's first bar without ``random_start``)."""
    lo, hi = np.int64(env[E_START_LO]), np.int64(env[E_START_HI])
    start = np.int64(start_bar)
    if start < 0:
        start = lo
        if env[E_RANDOM_START] > 0.0 and hi > lo:
            start = lo + np.int64(next_random(istate, i) % np.uint64(hi - lo + 1))
    length = np.int64(env[E_EPISODE_LENGTH])
    split_end = np.int64(env[E_SPLIT_END])
    end = min(start + length, split_end) if length > 0 else split_end
    open_account(i, int(start), int(end), env[E_INITIAL_BALANCE], fstate, istate, market)


@njit(cache=True)
def _reward(
    i: int, prev_equity: float, fstate: npt.NDArray[np.float64], env: npt.NDArray[np.float64], traded: float
) -> float:
    """Reward of one step from the equity change (log or differential Sharpe) minus the penalties."""
    equity = fstate[L.S_EQUITY, i]
    floor = 1e-9 * fstate[L.S_INITIAL_EQUITY, i]
    base = max(prev_equity, floor)
    if env[E_REWARD_KIND] == 0.0:
        reward = math.log(max(equity, floor) / base)
    else:
        ret = equity / base - 1.0
        a, b = fstate[L.S_REWARD_A, i], fstate[L.S_REWARD_B, i]
        da, db = ret - a, ret * ret - b
        variance = b - a * a
        reward = (b * da - 0.5 * a * db) / variance**1.5 if variance > 1e-12 else 0.0
        reward = min(max(reward, -10.0), 10.0)
        eta = env[E_DSR_ETA]
        fstate[L.S_REWARD_A, i] = a + eta * da
        fstate[L.S_REWARD_B, i] = b + eta * db
    peak = fstate[L.S_PEAK_EQUITY, i]
    if peak > 0.0:
        reward -= env[E_DRAWDOWN_PENALTY] * max(peak - equity, 0.0) / peak
    reward -= env[E_TURNOVER_PENALTY] * traded / base
    return reward * env[E_REWARD_SCALE]


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

    The deadband and the minimum holding period keep the current position instead.
    """
    t = istate[L.I_BAR, i]
    qty, equity = fstate[L.S_QTY, i], fstate[L.S_EQUITY, i]
    if env[E_DISCRETE] > 0.0:
        fraction = levels[min(max(np.int64(action), 0), levels.shape[0] - 1)]
    else:
        fraction = min(max(action, -1.0), 1.0) if math.isfinite(action) else 0.0
    if equity <= 0.0:
        return 0.0
    scale = env[E_POSITION_SCALE]
    current = qty * market[t, L.M_VALUE_CLOSE] / (scale * equity)
    if abs(fraction - current) < env[E_DEADBAND]:
        return qty
    if qty != 0.0 and istate[L.I_BARS_SINCE_TRADE, i] + 1 < env[E_MIN_HOLD]:  # bars held = since + 1
        return qty
    return fraction * scale * equity / market[t, L.M_CLOSE]


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
    if istate[L.I_DONE, i] != 0:
        reset_one(i, -1, fstate, istate, market, env)
        _write_obs(i, obs_row, fstate, istate, market, features_flat, env, brackets)
        report[:] = 0.0
        bar = istate[L.I_BAR, i]
        report[L.R_RESET] = 1.0
        report[L.R_EQUITY] = fstate[L.S_EQUITY, i]
        report[L.R_WALLET] = fstate[L.S_WALLET, i]
        report[L.R_BAR] = bar
        report[L.R_TIMESTAMP] = market[bar, L.M_TIMESTAMP]
        return
    target = target_quantity(i, action, fstate, istate, market, env, levels)
    limit_price = 0.0
    qty = fstate[L.S_QTY, i]
    if env[E_LIMIT_ORDERS] > 0.0 and target != qty:
        side = 1.0 if target > qty else -1.0
        limit_price = market[istate[L.I_BAR, i], L.M_CLOSE] * (1.0 - side * env[E_LIMIT_OFFSET])
    prev_equity = fstate[L.S_EQUITY, i]
    advance_account(i, target, limit_price, fstate, istate, market, params, brackets, limits, report)
    report[L.R_REWARD] = _reward(i, prev_equity, fstate, env, report[L.R_TRADED_NOTIONAL])
    _write_obs(i, obs_row, fstate, istate, market, features_flat, env, brackets)
    if istate[L.I_DONE, i] != 0 and env[E_SAME_STEP] > 0.0:
        for j in range(obs_row.shape[0]):  # a loop vectorises; numba's slice assignment does not
            final_row[j] = obs_row[j]
        reset_one(i, -1, fstate, istate, market, env)
        _write_obs(i, obs_row, fstate, istate, market, features_flat, env, brackets)
        report[L.R_RESET] = 1.0


#: Offsets in a single env's one state array: float state, report, int state (int64 bits), then the
#: packed constants. One array makes the per-step call cheap: the numba dispatcher spends about 0.1 us
#: typing each array argument, a sizeable part of a single env's step.
SINGLE_REPORT = L.N_FLOAT_STATE
SINGLE_INT = SINGLE_REPORT + L.N_REPORT
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


@njit(cache=True)
def step_accounts(
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
    """Step every account in order on the calling thread; ``report[R_*, i]`` is account ``i``'s."""
    params, env, limits, levels, brackets = unpack_constants(consts)
    for i in range(actions.shape[0]):
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


@njit(cache=True, parallel=True)
def step_accounts_parallel(
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
    """Step every account, accounts spread over numba's threads (results identical to the serial one)."""
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
