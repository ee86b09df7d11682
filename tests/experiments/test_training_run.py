"""A short training run end to end: TensorBoard tags, checkpoint restore, evaluation, reproducibility."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from experiments.config import load_config
from experiments.training.tensorboard import (
    ACTION_HISTOGRAM_TAG,
    TRADING_TAGS,
    read_histogram_tags,
    read_scalars,
)

TINY = ["data=synthetic", "experiment=smoke", "train.progress=false", "env.episode_length=64"]


@pytest.mark.slow
def test_rllib_ppo_writes_trading_tags_and_its_checkpoint_restores_and_reproduces(tmp_path: Path) -> None:
    import ray
    from ray.tune.trainable import trainable

    from experiments.commands.evaluate import evaluate_checkpoint
    from experiments.training.run import train

    user_results = Path(trainable.DEFAULT_STORAGE_PATH)  # ~/ray_results, fixed when ray was imported
    before = set(user_results.iterdir()) if user_results.exists() else set()
    cfg = load_config([*TINY, "agent=ppo_tiny", "agent.num_env_runners=0", "ray.num_cpus=1"])
    try:
        result = train(cfg, show_progress=False)
    finally:
        ray.shutdown()
    run_dir = result.paths.run_dir
    assert (run_dir / "config.yaml").exists() and (run_dir / "run.json").exists()
    # RLlib's own log folder lands in the run directory, nothing new in the user's ~/ray_results
    assert any((run_dir / "rllib").iterdir())
    assert (set(user_results.iterdir()) if user_results.exists() else set()) == before
    assert str(user_results) == trainable.DEFAULT_STORAGE_PATH
    scalars = read_scalars(result.paths.tensorboard_root / result.paths.run_name)
    assert set(TRADING_TAGS.values()) <= set(scalars)
    assert {"rl/policy_loss", "rl/vf_loss", "rl/entropy", "rl/env_steps_per_s"} <= set(scalars)
    assert all(kl > 0.0 for _, kl in scalars["rl/kl"])  # the policy KL of each update, not a constant 0
    assert ACTION_HISTOGRAM_TAG in read_histogram_tags(result.paths.tensorboard_root / result.paths.run_name)
    assert result.env_steps == 2 * 256  # two iterations of the tiny batch
    first = evaluate_checkpoint(result.checkpoint)
    second = evaluate_checkpoint(result.checkpoint)
    assert first["metrics"] == second["metrics"]
    # the restored module acts like the trained one: same evaluation as at the end of training
    # (train evaluated on train.eval_split; evaluate the same split from the checkpoint)
    same_split = evaluate_checkpoint(result.checkpoint, [f"experiment.test_split={cfg.train.eval_split}"])
    assert result.evaluation is not None
    assert same_split["metrics"] == result.evaluation.metrics.as_dict()


@pytest.mark.slow
def test_sb3_same_seed_same_result() -> None:
    from experiments.training.run import train

    cfg = load_config([*TINY, "agent=sb3_ppo_tiny"])
    a = train(cfg, show_progress=False)
    b = train(cfg, show_progress=False)
    assert a.paths.run_dir != b.paths.run_dir
    assert a.evaluation is not None and b.evaluation is not None
    np.testing.assert_array_equal(a.evaluation.trace.equity, b.evaluation.trace.equity)
    assert a.evaluation.metrics == b.evaluation.metrics
    other = train(load_config([*TINY, "agent=sb3_ppo_tiny", "seed=1"]), show_progress=False)
    assert other.evaluation is not None
    assert not np.array_equal(other.evaluation.trace.actions, a.evaluation.trace.actions)


@pytest.mark.slow
def test_rllib_lstm_policy_restores_and_keeps_state_per_account() -> None:
    import ray
    import torch
    import tree

    from agents.rllib.policy import RLlibPolicy
    from experiments.commands.evaluate import evaluate_checkpoint
    from experiments.training.run import train

    cfg = load_config(
        [*TINY, "agent=ppo_tiny", "agent.use_lstm=true", "agent.lstm_cell_size=8", "ray.num_cpus=1"]
    )
    try:
        result = train(cfg, show_progress=False)
    finally:
        ray.shutdown()
    same_split = evaluate_checkpoint(result.checkpoint, [f"experiment.test_split={cfg.train.eval_split}"])
    assert result.evaluation is not None
    assert same_split["metrics"] == result.evaluation.metrics.as_dict()

    policy = RLlibPolicy.load(result.checkpoint)
    obs = (
        np.random.default_rng(0).normal(size=(3, policy.module.observation_space.shape[0])).astype(np.float32)
    )
    policy.act(obs)
    policy.act(obs)
    before = [leaf.clone() for leaf in tree.flatten(policy._state)]
    policy.reset(np.array([False, True, False]))
    after = tree.flatten(policy._state)
    for old, new in zip(before, after, strict=True):
        assert torch.equal(new[[0, 2]], old[[0, 2]])  # untouched accounts keep their memory
        assert torch.count_nonzero(new[1]) == 0  # the reset account starts from the zero initial state


@pytest.mark.slow
@pytest.mark.parametrize("agent", ["sb3_ppo_tiny", "ppo_tiny"])
def test_resume_continues_from_the_checkpoint(agent: str) -> None:
    import ray

    from asterrl.errors import ConfigError
    from experiments.training.run import train

    base = [*TINY, f"agent={agent}", "ray.num_cpus=1", "train.iterations=1"]
    try:
        first = train(load_config(base), show_progress=False)
        steps = first.env_steps
        resumed = train(load_config([*base, f"train.resume={first.checkpoint}"]), show_progress=False)
        # one more iteration on top of the restored counters: twice the steps of the first run
        assert resumed.env_steps == 2 * steps
        with pytest.raises(ConfigError, match="not a checkpoint"):
            train(load_config([*base, f"train.resume={first.checkpoint.parent}"]), show_progress=False)
    finally:
        ray.shutdown()
