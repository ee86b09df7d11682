"""The single and the vector env: checkers, registration, config, and N single envs == one vector env."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import envs
from asterrl.errors import ConfigError
from asterrl.risk import RiskLimits
from envs.vector_env import account_seed
from tests.envs.market import SPLITS, synthetic_market

BARS, FUNDING, MARK = synthetic_market()
RISK = RiskLimits(max_leverage=3.0, max_drawdown=0.9, max_daily_loss=0.9)


def make(**overrides: Any) -> envs.AsterPerpEnv:
    kwargs: dict[str, Any] = {"splits": SPLITS, "window": 8, "episode_length": 50, **overrides}
    return envs.AsterPerpEnv(data=BARS, funding=FUNDING, mark=MARK, instrument="BTCUSDT", risk=RISK, **kwargs)


@pytest.mark.filterwarnings("ignore:.*Box observation space (minimum|maximum) value")
@pytest.mark.parametrize(
    "overrides",
    [{}, {"action_type": "continuous"}, {"observation": "dict"}, {"reward": "differential_sharpe"}],
)
def test_gymnasium_and_sb3_checkers_pass(overrides: dict[str, Any]) -> None:
    env = make(**overrides)
    gym_check_env(env, skip_render_check=True)
    sb3_check_env(make(**overrides), warn=False)


def test_registered_on_import_and_made_from_the_registry() -> None:
    assert envs.ENV_ID in gym.registry
    env = gym.make(envs.ENV_ID, data=BARS, instrument="BTCUSDT", splits=SPLITS, window=8, episode_length=100)
    obs, _ = env.reset(seed=3)
    assert obs.dtype == np.float32 and obs.shape == (8 * 6 + 7,)
    vec = gym.make_vec(
        envs.ENV_ID,
        num_envs=3,
        vectorization_mode="vector_entry_point",
        data=BARS,
        instrument="BTCUSDT",
        splits=SPLITS,
        episode_length=100,
    )
    assert isinstance(vec.unwrapped, envs.AsterPerpVectorEnv)
    assert vec.reset(seed=0)[0].shape == (3, 32 * 6 + 7)


def test_bad_config_is_one_clear_error() -> None:
    with pytest.raises(ConfigError, match="reward"):
        make(reward="sharpe")
    with pytest.raises(ConfigError, match="too short"):
        make(episode_length=10_000)


def test_reward_is_the_log_equity_change_and_info_reports_costs() -> None:
    env = make(action_type="continuous", deadband=0.0)
    env.reset(seed=5)
    equity = 10_000.0
    for action in [1.0, 1.0, -0.5, 0.0]:
        _, reward, _, _, info = env.step(np.array([action], dtype=np.float32))
        assert reward == pytest.approx(math.log(info["equity"] / equity), rel=1e-12)
        assert info["fee"] >= 0.0 and info["slippage"] >= 0.0
        equity = info["equity"]
    assert info["position"] == 0.0 and info["fill_qty"] != 0.0


def test_minimum_holding_period_blocks_trades_until_it_passes() -> None:
    env = make(action_type="continuous", deadband=0.0, min_hold_bars=3)
    env.reset(seed=1)
    actions = [0.5, -0.5, -0.5, -0.5, 0.0]  # 1.5x: far from the 3x limit, so no drift trim interferes
    fills = [env.step(np.array([a], dtype=np.float32))[4]["fill_qty"] != 0.0 for a in actions]
    # Filled at step 1's open: held through 3 bars (steps 1-3), so the flip goes through at step 4.
    assert fills == [True, False, False, True, False]  # and the flip starts a new holding period


def test_episodes_stay_inside_the_split() -> None:
    env = make(split="validation", episode_length=0)
    for seed in range(5):
        _, info = env.reset(seed=seed)
        done = False
        while not done:
            _, _, term, trunc, step_info = env.step(2)
            done = term or trunc
        lo = np.datetime64("2023-02-01")
        assert np.datetime64(info["timestamp"], "ms") >= lo
        assert np.datetime64(int(step_info["timestamp"]), "ms") < np.datetime64("2023-02-21")


def _run_single(seed: int, actions: np.ndarray, **overrides: Any) -> list[tuple[Any, ...]]:
    env = make(**overrides)
    obs, _ = env.reset(seed=seed)
    out: list[tuple[Any, ...]] = [(obs, 0.0, False, False, 10_000.0)]
    done = False
    for a in actions:
        if done:  # mirror next-step autoreset: the vector env spends this step resetting
            obs, info = env.reset()
            out.append((obs, 0.0, False, False, info["equity"]))
            done = False
            continue
        obs, r, term, trunc, info = env.step(a)
        out.append((obs, r, term, trunc, info["equity"]))
        done = term or trunc
    return out


@pytest.mark.parametrize("num_envs", [4, 70])  # 70 runs the threaded kernel
def test_vector_env_gives_the_trajectories_of_single_envs(num_envs: int) -> None:
    overrides: dict[str, Any] = {"episode_length": 12, "deadband": 0.0}
    rng = np.random.default_rng(7)
    steps = 60
    actions = rng.integers(0, 5, size=(steps, num_envs))
    vec = envs.AsterPerpVectorEnv(
        num_envs,
        data=BARS,
        funding=FUNDING,
        mark=MARK,
        instrument="BTCUSDT",
        risk=RISK,
        splits=SPLITS,
        window=8,
        **overrides,
    )
    obs, _ = vec.reset(seed=100)
    traj = [(obs, np.zeros(num_envs), np.zeros(num_envs, bool), np.zeros(num_envs, bool), None)]
    for t in range(steps):
        obs, r, term, trunc, info = vec.step(actions[t])
        traj.append((obs, r, term, trunc, info["equity"]))
    for i in range(0, num_envs, max(1, num_envs // 7)):
        single = _run_single(account_seed(100, i), actions[:, i], **overrides)
        for t, (s_obs, s_r, s_term, s_trunc, s_eq) in enumerate(single):
            v_obs, v_r, v_term, v_trunc, v_eq = traj[t]
            assert np.array_equal(s_obs, v_obs[i]), (i, t)
            assert s_r == v_r[i] and s_term == v_term[i] and s_trunc == v_trunc[i], (i, t)
            if v_eq is not None:
                assert s_eq == v_eq[i]


def test_same_step_autoreset_returns_the_final_observation() -> None:
    vec = envs.AsterPerpVectorEnv(
        2,
        data=BARS,
        funding=FUNDING,
        mark=MARK,
        instrument="BTCUSDT",
        risk=RISK,
        splits=SPLITS,
        window=8,
        episode_length=3,
        autoreset_mode="same_step",
    )
    vec.reset(seed=0)
    for _ in range(2):
        _, _, _, trunc, _ = vec.step(np.array([2, 2]))
        assert not trunc.any()
    obs, _, _, trunc, info = vec.step(np.array([2, 2]))
    assert trunc.all() and info["_final_obs"].all()
    assert not np.array_equal(obs, info["final_obs"])
    single = make(episode_length=3)
    single.reset(seed=account_seed(0, 0))
    for _ in range(3):
        last = single.step(2)[0]
    assert np.array_equal(last, info["final_obs"][0])


def test_info_holds_every_report_key_in_order() -> None:
    from asterrl.sim.layout import N_REPORT, REPORT_KEYS, Report
    from envs.perp_env import report_info

    info = report_info([float(i) for i in range(N_REPORT)])
    assert list(info) == list(REPORT_KEYS) == [slot.name.lower() for slot in Report]
    assert list(info.values()) == [float(i) for i in range(N_REPORT)]


def test_the_serial_and_parallel_loops_are_one_function_cached_apart() -> None:
    from envs.kernels import _step_all, step_accounts, step_accounts_parallel

    # One Python body, two builds under their own names (numba names its cache files after them).
    assert step_accounts.py_func.__code__ is _step_all.__code__ is step_accounts_parallel.py_func.__code__
    assert step_accounts.py_func.__qualname__ != step_accounts_parallel.py_func.__qualname__
    equities = []
    for kernel in (step_accounts, step_accounts_parallel):
        vec = envs.AsterPerpVectorEnv(
            16,
            data=BARS,
            funding=FUNDING,
            mark=MARK,
            instrument="BTCUSDT",
            risk=RISK,
            splits=SPLITS,
            window=8,
        )
        vec._kernel = kernel  # type: ignore[assignment]
        vec.reset(seed=3)
        rng = np.random.default_rng(0)
        equities.append(np.array([vec.step(rng.integers(0, 5, 16))[4]["equity"].copy() for _ in range(60)]))
    assert np.array_equal(equities[0], equities[1])
