"""``ArrayPPOLearner`` and ``ArrayEnvRunner`` train exactly as RLlib's own PPO learner and env runner do.

RLlib's pieces are the reference: the bootstrap step writes the batch RLlib's piece writes, the shuffle
draws RLlib's permutation, the minibatch iterator hands out RLlib's minibatches, and a whole training run
ends with bit-identical weights.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from ray.rllib.connectors.common import BatchIndividualItems
from ray.rllib.connectors.learner import AddColumnsFromEpisodesToTrainBatch, AddOneTsToEpisodesAndTruncate
from ray.rllib.core.columns import Columns
from ray.rllib.policy.sample_batch import MultiAgentBatch, SampleBatch
from ray.rllib.utils.minibatch_utils import MiniBatchCyclicIterator

from agents.config import PPOConfig
from agents.rllib.config import build_rllib_ppo
from agents.rllib.env_runner import ArrayEnvRunner
from agents.rllib.learner import AppendBootstrapStep, HostShuffledBatch, SlicedMinibatches
from envs.core import EnvCore, build_core
from tests.envs.market import SPLITS, synthetic_market


def _core(**env: Any) -> EnvCore:
    bars, funding, mark = synthetic_market(n_bars=1_500, seed=4, vol=0.02)
    config = {"splits": SPLITS, "window": 8, "autoreset_mode": "next_step", **env}
    return build_core(config=config, data=bars, funding=funding, mark=mark, instrument="BTCUSDT")


def _agent(**overrides: Any) -> PPOConfig:
    return PPOConfig(hidden_sizes=[16, 16], learner_device="cpu", **overrides)


def test_bootstrap_step_writes_the_batch_rllibs_piece_writes() -> None:
    runner = ArrayEnvRunner(
        config=build_rllib_ppo(_agent(num_envs_per_env_runner=5), _core(episode_length=0), 2)
    )
    runner.sample(num_timesteps=300, explore=True)
    episodes = runner.sample(num_timesteps=400, explore=True)  # done chunks and continuing ones
    assert any(e.is_done for e in episodes) and any(not e.is_done for e in episodes)
    batches = []
    for piece in (AddOneTsToEpisodesAndTruncate(), AppendBootstrapStep()):
        chunks, batch, shared = copy.deepcopy(episodes), {}, {}
        for step in (piece, AddColumnsFromEpisodesToTrainBatch(), BatchIndividualItems()):
            batch = step(rl_module=runner.module, batch=batch, episodes=chunks, shared_data=shared)
        batches.append((batch, shared, [e.id_ for e in chunks]))
    (want, want_shared, want_ids), (got, got_shared, got_ids) = batches
    assert got_ids == want_ids and got_shared == want_shared
    assert set(got) == set(want) >= {Columns.LOSS_MASK, Columns.TERMINATEDS, Columns.TRUNCATEDS}
    for key in want:
        np.testing.assert_array_equal(got[key], want[key])
        assert np.asarray(got[key]).dtype == np.asarray(want[key]).dtype
    # one bootstrap row per chunk, masked out of the loss
    assert int((~np.asarray(got[Columns.LOSS_MASK])).sum()) == len(episodes)


def _train_batch(rows: int) -> SampleBatch:
    rng = np.random.default_rng(0)
    return SampleBatch(
        {
            Columns.OBS: torch.from_numpy(rng.normal(size=(rows, 7)).astype(np.float32)),
            Columns.ACTIONS: torch.from_numpy(rng.integers(0, 5, rows)),
            Columns.LOSS_MASK: torch.from_numpy(rng.random(rows) < 0.9),
            "plain": rng.normal(size=rows),
        }
    )


def test_host_shuffle_moves_rows_as_rllibs_shuffle_does() -> None:
    for _ in range(3):
        seed = int(np.random.default_rng().integers(1 << 31))
        reference, ours = _train_batch(257), HostShuffledBatch(_train_batch(257))
        np.random.seed(seed)
        reference.shuffle()
        np.random.seed(seed)
        ours.shuffle()
        for key in reference:
            got, want = ours[key], reference[key]
            assert type(got) is type(want)
            np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
        assert not np.array_equal(np.asarray(ours[Columns.OBS]), np.asarray(_train_batch(257)[Columns.OBS]))


def test_sliced_minibatches_are_rllibs_minibatches_and_views_inside_a_pass() -> None:
    minibatches, shares_memory = [], []
    for cls in (MiniBatchCyclicIterator, SlicedMinibatches):
        np.random.seed(3)
        batch = MultiAgentBatch({"default_policy": HostShuffledBatch(_train_batch(100))}, 100)
        first_pass_obs = batch.policy_batches["default_policy"][Columns.OBS]
        iterator = MiniBatchCyclicIterator(
            batch, num_epochs=3, minibatch_size=32, shuffle_batch_per_epoch=True
        )
        iterator.__class__ = cls
        minibatches.append([mb.policy_batches["default_policy"] for mb in iterator])
        first = minibatches[-1][0][Columns.OBS]
        shares_memory.append(
            first.untyped_storage().data_ptr() == first_pass_obs.untyped_storage().data_ptr()
        )
    want, got = minibatches
    assert len(got) == len(want) == 10  # ceil(3 passes x 100 rows / 32)
    for mine, theirs in zip(got, want, strict=True):
        assert set(mine) == set(theirs)
        for key in theirs:
            np.testing.assert_array_equal(np.asarray(mine[key]), np.asarray(theirs[key]))
    assert shares_memory == [False, True]  # RLlib copies every minibatch; inside a pass ours is a view


@pytest.mark.slow
def test_array_runner_and_learner_train_bit_identically_to_rllibs_defaults(tmp_path: Path) -> None:
    from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner
    from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner

    from experiments.training.config import RayConfig
    from experiments.training.ray_session import ray_session

    core = _core(episode_length=24)
    # 192-step batches in 80-step minibatches: minibatches straddle the passes and the shuffles
    agent = _agent(num_envs_per_env_runner=4, train_batch_size=192, minibatch_size=80, num_epochs=3)
    runs = []
    with ray_session(RayConfig(num_cpus=1), tmp_path):
        for ours in (False, True):
            config = build_rllib_ppo(agent, core, seed=7)
            if not ours:
                config = config.env_runners(env_runner_cls=SingleAgentEnvRunner).learners(
                    learner_class=PPOTorchLearner
                )
            algo = config.build_algo()
            results = [algo.train() for _ in range(3)]
            module = algo.get_module()
            assert module is not None
            runs.append(({k: v.detach().clone() for k, v in module.state_dict().items()}, results[-1]))
            algo.stop()
    (want, want_result), (got, got_result) = runs
    assert set(got) == set(want)
    for key in want:
        assert torch.equal(got[key], want[key]), key
    learner = ("learners", "default_policy", "policy_loss")
    assert got_result[learner[0]][learner[1]][learner[2]] == want_result[learner[0]][learner[1]][learner[2]]
    assert got_result["env_runners"]["episode_return_mean"] == pytest.approx(
        want_result["env_runners"]["episode_return_mean"], rel=1e-12
    )
