"""``ArrayEnvRunner`` samples exactly what RLlib's own ``SingleAgentEnvRunner`` samples, far faster.

RLlib's runner is the reference: both runners get the same module weights and the same torch seed, and
every episode chunk of every ``sample`` call must match field by field (observations, actions, rewards,
log-probabilities, distribution inputs, flags, start times, which chunks continue which), as must the
episode metrics.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import numpy as np
import pytest
import torch
import tree
from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner

from agents.config import PPOConfig
from agents.rllib.config import build_rllib_ppo
from agents.rllib.env_runner import ArrayEnvRunner
from envs.core import EnvCore, build_core
from tests.envs.market import SPLITS, synthetic_market
from tests.processes import REPO


def _core(**env: Any) -> EnvCore:
    bars, funding, mark = synthetic_market(n_bars=1_500, seed=3, vol=0.02)
    config = {"splits": SPLITS, "window": 8, "autoreset_mode": "next_step", **env}
    return build_core(config=config, data=bars, funding=funding, mark=mark, instrument="BTCUSDT")


def _runners(core: EnvCore, n_envs: int, **agent: Any) -> tuple[SingleAgentEnvRunner, ArrayEnvRunner]:
    cfg = PPOConfig(hidden_sizes=[16, 16], num_envs_per_env_runner=n_envs, learner_device="cpu", **agent)
    config = build_rllib_ppo(cfg, core, seed=11)
    reference, arrays = SingleAgentEnvRunner(config=config), ArrayEnvRunner(config=config)
    arrays.module.set_state(reference.module.get_state())
    return reference, arrays


def _sample(runner: SingleAgentEnvRunner, calls: list[int], explore: bool = True) -> list[list[Any]]:
    torch.manual_seed(5)
    return [runner.sample(num_timesteps=n, explore=explore) for n in calls]


def _assert_same_chunks(expected: list[list[Any]], got: list[list[Any]]) -> None:
    ids: dict[str, str] = {}  # reference episode id -> array runner's id: continuation chunks must agree
    for want_call, got_call in zip(expected, got, strict=True):
        assert len(want_call) == len(got_call)
        for want, chunk in zip(want_call, got_call, strict=True):
            assert ids.setdefault(want.id_, chunk.id_) == chunk.id_
            assert (len(want), want.t_started) == (len(chunk), chunk.t_started)
            assert (want.is_terminated, want.is_truncated) == (chunk.is_terminated, chunk.is_truncated)
            for mine, theirs in (
                (chunk.get_observations(), want.get_observations()),
                (chunk.get_actions(), want.get_actions()),
                (chunk.get_rewards(), want.get_rewards()),
            ):
                np.testing.assert_array_equal(mine, theirs)
                assert np.asarray(mine).dtype == np.asarray(theirs).dtype
            assert set(chunk.extra_model_outputs) == set(want.extra_model_outputs)
            for key in want.extra_model_outputs:  # nested for recurrent state (actor/critic, h/c)
                mine, theirs = chunk.get_extra_model_outputs(key), want.get_extra_model_outputs(key)
                for leaf, reference_leaf in zip(tree.flatten(mine), tree.flatten(theirs), strict=True):
                    np.testing.assert_array_equal(leaf, reference_leaf)
                    assert np.asarray(leaf).dtype == np.asarray(reference_leaf).dtype
    assert len(set(ids.values())) == len(ids)  # distinct episodes keep distinct ids


def test_array_runner_samples_the_reference_runners_chunks_when_episodes_end_out_of_step() -> None:
    # episodes run to the end of the split from random starts: each account ends at its own step, so
    # chunks end, reset and restart at different steps within one sample call
    reference, arrays = _runners(_core(episode_length=0), n_envs=6)
    calls = [150, 150, 150, 60]
    expected, got = _sample(reference, calls), _sample(arrays, calls)
    ended = [c for call in expected for c in call if c.is_done]
    assert len({(c.t_started + len(c)) for c in ended}) >= 3  # several different episode lengths
    _assert_same_chunks(expected, got)
    want, have = reference.get_metrics(), arrays.get_metrics()
    for key in ("num_env_steps_sampled", "num_episodes", "episode_len_mean", "episode_return_mean"):
        assert have[key].peek() == pytest.approx(want[key].peek(), rel=1e-12), key


def test_array_runner_matches_the_reference_with_continuous_actions() -> None:
    reference, arrays = _runners(_core(episode_length=40, action_type="continuous"), n_envs=3)
    assert arrays.samples_arrays
    _assert_same_chunks(_sample(reference, [100, 100]), _sample(arrays, [100, 100]))


def test_array_runner_matches_the_reference_when_sampling_greedy_actions() -> None:
    reference, arrays = _runners(_core(episode_length=25), n_envs=3)
    _assert_same_chunks(_sample(reference, [70, 70], explore=False), _sample(arrays, [70, 70], explore=False))


def test_recurrent_modules_fall_back_to_rllibs_loop() -> None:
    reference, arrays = _runners(_core(episode_length=30), n_envs=2, use_lstm=True, lstm_cell_size=8)
    assert not arrays.samples_arrays
    _assert_same_chunks(_sample(reference, [64, 64, 64]), _sample(arrays, [64, 64, 64]))


def cpu_per_step_of_both_runners() -> tuple[float, float]:
    """CPU seconds per env step of RLlib's runner and of the array runner over 256 accounts (best of three
    interleaved rounds: the box is shared)."""
    reference, arrays = _runners(_core(episode_length=200), n_envs=256)
    cpu_per_step = [np.inf, np.inf]
    for runner in (reference, arrays):
        runner.sample(num_timesteps=4_096, explore=True)  # warm-up
    for _ in range(3):
        for i, runner in enumerate((reference, arrays)):
            start = time.process_time()
            runner.sample(num_timesteps=16_384, explore=True)  # 64 steps per account
            cpu_per_step[i] = min(cpu_per_step[i], (time.process_time() - start) / 16_384)
    return cpu_per_step[0], cpu_per_step[1]


@pytest.mark.slow
def test_array_runner_takes_a_fraction_of_the_cpu_time_with_hundreds_of_accounts() -> None:
    # Timed in a fresh interpreter: after an in-process Ray session (earlier tests in this process) torch's
    # elementwise ops (tanh, softmax) in that process ran 10-20x slower, adding the same ~90 us per env step
    # to both runners, whatever this test compares.
    code = (
        "import json; from tests.agents.test_rllib_sampling import cpu_per_step_of_both_runners as f; "
        "print(json.dumps(f()))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True, timeout=600
    )
    reference, arrays = json.loads(done.stdout.strip().splitlines()[-1])
    # about 5x on an idle core for this tiny network (a 903-wide observation and 64x64 towers make the
    # shared forward pass a larger part of both, see benchmarks/README.md); 3x leaves room for a busy box
    assert arrays < reference / 3.0, (reference, arrays)


def test_switching_between_rllibs_loop_and_the_array_loop_starts_fresh_episodes() -> None:
    _, arrays = _runners(_core(episode_length=30), n_envs=3)
    first = arrays.sample(num_timesteps=45, explore=True)  # 15 steps per account, all still running
    assert {c.t_started for c in first} == {0} and not any(c.is_done for c in first)
    whole = arrays.sample(num_episodes=3, explore=True)  # RLlib's loop: resets, runs whole episodes
    assert len(whole) == 3 and all(c.is_done and c.t_started == 0 and 0 < len(c) <= 30 for c in whole)
    again = arrays.sample(num_timesteps=45, explore=True)  # back to arrays: reset, not a continuation
    assert {c.t_started for c in again} == {0}
    assert not {c.id_ for c in again} & {c.id_ for c in first + whole}
