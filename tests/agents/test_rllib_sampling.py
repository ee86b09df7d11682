"""``ArrayEnvRunner`` samples exactly what RLlib's own ``SingleAgentEnvRunner`` samples, far faster.

RLlib's runner is the reference: both runners get the same module weights and the same torch seed, and
every episode chunk of every ``sample`` call must match field by field (observations, actions, rewards,
log-probabilities, distribution inputs, flags, start times, which chunks continue which), as must the
episode metrics.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
import tree
from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner
from ray.rllib.env.single_agent_episode import SingleAgentEpisode

from agents.config import PPOConfig
from agents.rllib.config import build_rllib_ppo
from agents.rllib.env_runner import ArrayEnvRunner
from envs.core import EnvCore, build_core
from tests.envs.market import SPLITS, synthetic_market


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


def test_array_runner_does_no_per_account_work_per_step_with_hundreds_of_accounts() -> None:
    """What makes the array runner cheap, counted rather than timed (the timing is benchmarks/training.py):
    RLlib's loop adds every account's step to its episode one call at a time; the array runner makes one
    module forward per vector step and builds each episode chunk once, from arrays."""
    reference, arrays = _runners(_core(episode_length=200), n_envs=256)
    counts: dict[str, int] = {}

    def counted(owner: Any, name: str) -> Any:
        original = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            counts[name] = counts.get(name, 0) + 1
            return original(*args, **kwargs)

        return wrapper

    results = {}
    for label, runner in (("reference", reference), ("arrays", arrays)):
        counts.clear()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(SingleAgentEpisode, "add_env_step", counted(SingleAgentEpisode, "add_env_step"))
            module = runner.module
            patch.setattr(module, "forward_exploration", counted(module, "forward_exploration"))
            episodes = runner.sample(num_timesteps=256 * 16, explore=True)  # 16 steps per account
        results[label] = dict(counts)
        assert sum(len(e) for e in episodes) >= 256 * 16
    assert results["reference"]["add_env_step"] >= 256 * 16  # one call per account per step
    assert results["arrays"].get("add_env_step", 0) == 0
    # one module forward over all 256 accounts per vector step in both (16, plus one where a finished
    # account's reset step does not count as an env step)
    assert results["arrays"]["forward_exploration"] == results["reference"]["forward_exploration"] <= 17


def test_switching_between_rllibs_loop_and_the_array_loop_starts_fresh_episodes() -> None:
    _, arrays = _runners(_core(episode_length=30), n_envs=3)
    first = arrays.sample(num_timesteps=45, explore=True)  # 15 steps per account, all still running
    assert {c.t_started for c in first} == {0} and not any(c.is_done for c in first)
    whole = arrays.sample(num_episodes=3, explore=True)  # RLlib's loop: resets, runs whole episodes
    assert len(whole) == 3 and all(c.is_done and c.t_started == 0 and 0 < len(c) <= 30 for c in whole)
    again = arrays.sample(num_timesteps=45, explore=True)  # back to arrays: reset, not a continuation
    assert {c.t_started for c in again} == {0}
    assert not {c.id_ for c in again} & {c.id_ for c in first + whole}
