"""RLlib checkpoints hold the policy and the optimizer, not the market: the env travels by fingerprint.

Before issue 12 every checkpoint pickled the prepared market data four times (13 MB each for the shared
BTCUSDT data) because the ``EnvCore`` sat in the algorithm config's ``env_config``.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from agents.config import PPOConfig
from agents.rllib.config import ENV_NAME, build_rllib_ppo, core_fingerprint
from envs.core import EnvCore, build_core
from tests.envs.market import SPLITS, synthetic_market


def _core(n_bars: int = 1_500, bump: float = 0.0) -> EnvCore:
    bars, funding, mark = synthetic_market(n_bars=n_bars, seed=5)
    bars.loc[700, "close"] *= 1.0 + bump
    config = {"splits": SPLITS, "window": 8, "episode_length": 50, "autoreset_mode": "next_step"}
    return build_core(config=config, data=bars, funding=funding, mark=mark, instrument="BTCUSDT")


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def test_the_fingerprint_follows_the_market_data_and_nothing_else() -> None:
    assert core_fingerprint(_core()) == core_fingerprint(_core())  # rebuilt from the same data
    assert core_fingerprint(_core(bump=1e-6)) != core_fingerprint(_core())  # one close moved
    assert core_fingerprint(_core(n_bars=1_499)) != core_fingerprint(_core())


@pytest.mark.slow
def test_a_checkpoint_records_the_env_fingerprint_not_the_market_and_restores(tmp_path: Path) -> None:
    from experiments.training.config import RayConfig
    from experiments.training.ray_session import ray_session

    core = _core()
    cfg = PPOConfig(hidden_sizes=[16, 16], train_batch_size=128, minibatch_size=64, num_envs_per_env_runner=4)
    market_bytes = core.data.values.nbytes + core.features_flat.nbytes
    with ray_session(RayConfig(num_cpus=1), tmp_path / "run"):
        algo = build_rllib_ppo(cfg, core, seed=1).build_algo()
        algo.train()
        checkpoint = tmp_path / "checkpoint"
        algo.save_to_path(str(checkpoint))
        saved = _weights(algo)
        algo.stop()

        pickles = list(checkpoint.rglob("class_and_ctor_args.pkl"))
        assert len(pickles) >= 4  # algorithm, env runner, learner group, learner (and the modules)
        assert max(p.stat().st_size for p in pickles) < market_bytes / 4
        assert _size(checkpoint) < 2 * market_bytes
        with (checkpoint / "class_and_ctor_args.pkl").open("rb") as f:
            (state,), _ = pickle.load(f)["ctor_args_and_kwargs"]
        assert state["env_config"] == {"env_fingerprint": core_fingerprint(core)}
        assert state["env"] == f"{ENV_NAME}-{core_fingerprint(core)}"

        # restoring: build over the same (rebuilt) market, then load the state
        restored = build_rllib_ppo(cfg, _core(), seed=2).build_algo()
        restored.restore_from_path(str(checkpoint))
        assert all(torch.equal(saved[k], v) for k, v in _weights(restored).items())
        result = restored.train()  # and it trains on
        assert result["env_runners"]["num_env_steps_sampled"] >= 128
        restored.stop()


def _weights(algo: Any) -> dict[str, torch.Tensor]:
    module = algo.get_module()
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.mark.slow
def test_the_default_runs_checkpoints_total_under_50_mb(tmp_path: Path) -> None:
    """One checkpoint of the default agent on the default features, times the checkpoints a default run
    writes (every ``train.checkpoint_every`` iterations and the final one)."""
    from experiments.config import load_config
    from experiments.training.environment import build_env_core, prepare_market
    from experiments.training.ray_session import ray_session

    cfg = load_config(["data=synthetic", "agent=ppo"])
    market = prepare_market(cfg, show_progress=False)
    core = build_env_core(cfg, market, "train", autoreset_mode="next_step")
    assert core.obs_size > 800  # the default 32-bar window of the default features
    small = {"train_batch_size": 2_048, "minibatch_size": 1_024, "num_envs_per_env_runner": 64}
    agent = PPOConfig(**{**cfg.agent.__dict__, **small})  # same network, a cheaper iteration
    with ray_session(cfg.ray, tmp_path / "run"):
        algo = build_rllib_ppo(agent, core, seed=0).build_algo()
        algo.train()
        algo.save_to_path(str(tmp_path / "checkpoint"))
        algo.stop()
    train = cfg.train
    count = train.iterations // train.checkpoint_every + 1 if train.checkpoint_every else 1
    one = _size(tmp_path / "checkpoint")
    assert one * count < 50e6, f"{count} checkpoints of {one / 1e6:.1f} MB"
    assert one < np.float64(4e6)  # the 903x64x64 policy and value towers and their Adam moments
