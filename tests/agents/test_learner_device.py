"""Where the learners run: RLlib's on the GPU only where measured faster, SB3's MLP policies on the CPU."""

from __future__ import annotations

import pytest

from agents.config import PPOConfig
from agents.rllib.config import learner_gpus, learner_workload
from agents.rllib.learner_device import GPU_MARGIN, LearnerWorkload, learner_on_gpu, update_seconds
from agents.sb3.ppo import torch_device
from asterrl.errors import ConfigError
from envs.core import build_core
from tests.envs.market import SPLITS, synthetic_market

WORKLOAD = LearnerWorkload(obs_size=903, hidden_sizes=(64, 64), n_outputs=5, minibatch_size=4096)


def test_explicit_settings_are_obeyed_and_cuda_without_a_gpu_is_a_config_error() -> None:
    for available in (True, False):
        assert not learner_on_gpu("cpu", WORKLOAD, cuda_available=available, gpu_faster=True)
    assert learner_on_gpu("cuda", WORKLOAD, cuda_available=True, gpu_faster=False)
    with pytest.raises(ConfigError, match=r"agent\.learner_device=cuda"):
        learner_on_gpu("cuda", WORKLOAD, cuda_available=False)


def test_auto_takes_the_gpu_only_when_one_is_seen_and_measured_faster() -> None:
    assert learner_on_gpu("auto", WORKLOAD, cuda_available=True, gpu_faster=True)
    assert not learner_on_gpu("auto", WORKLOAD, cuda_available=True, gpu_faster=False)
    # no GPU: nothing is measured (gpu_faster=None would measure) and the learner stays on the CPU
    assert not learner_on_gpu("auto", WORKLOAD, cuda_available=False, gpu_faster=None)


def test_the_cpu_measurement_times_the_update_of_the_given_shape() -> None:
    small = LearnerWorkload(obs_size=32, hidden_sizes=(16,), n_outputs=5, minibatch_size=64)
    large = LearnerWorkload(obs_size=903, hidden_sizes=(64, 64), n_outputs=5, minibatch_size=4096)
    small_s, large_s = update_seconds(small, "cpu", repeats=5), update_seconds(large, "cpu", repeats=5)
    # the large update does ~3,000x the arithmetic of the small one; per-call overhead keeps the ratio lower
    assert small_s > 0.0 and large_s > 20.0 * small_s
    assert 0.0 < GPU_MARGIN < 1.0


def test_the_rllib_workload_is_the_agents_network_on_the_envs_observation() -> None:
    bars, funding, mark = synthetic_market(n_bars=1_500, seed=1)
    core = build_core(
        config={"splits": SPLITS, "window": 8, "episode_length": 100},
        data=bars,
        funding=funding,
        mark=mark,
        instrument="BTCUSDT",
    )
    cfg = PPOConfig(hidden_sizes=[32, 16], minibatch_size=128, learner_device="auto")
    workload = learner_workload(cfg, core)
    assert workload == LearnerWorkload(core.obs_size, (32, 16), 5, 128, 1)
    assert learner_gpus(cfg, core, cuda_available=False) == 0
    continuous = build_core(
        config={"splits": SPLITS, "window": 8, "action_type": "continuous"},
        data=bars,
        funding=funding,
        mark=mark,
        instrument="BTCUSDT",
    )
    assert learner_workload(cfg, continuous).n_outputs == 2  # mean and log-std of the one action


def test_sb3_keeps_its_mlp_policy_on_the_cpu_unless_told_cuda() -> None:
    assert torch_device("auto", cuda_available=True) == "cpu"
    assert torch_device("auto", cuda_available=False) == "cpu"
    assert torch_device("cpu", cuda_available=True) == "cpu"
    assert torch_device("cuda", cuda_available=True) == "cuda"
    with pytest.raises(ConfigError):
        torch_device("cuda", cuda_available=False)
