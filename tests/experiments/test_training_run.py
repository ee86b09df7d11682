"""A short training run end to end: TensorBoard curves, checkpoints kept and refused, evaluation, seeds."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from asterrl.errors import ConfigError
from experiments.config import load_config
from experiments.training.tensorboard import (
    ACTION_HISTOGRAM_TAG,
    TRADING_TAGS,
    read_histogram_tags,
    read_scalars,
)

TINY = ["data=synthetic", "experiment=smoke", "train.progress=false", "env.episode_length=64"]


@pytest.mark.slow
def test_rllib_run_keeps_best_and_last_checkpoints_logs_both_curves_and_refuses_bad_checkpoints(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    import ray
    from ray.tune.trainable import trainable

    from experiments.commands.evaluate import evaluate_checkpoint
    from experiments.training.checkpoints import BEST, FINAL, iteration_checkpoints, read_info
    from experiments.training.run import train

    user_results = Path(trainable.DEFAULT_STORAGE_PATH)  # ~/ray_results, fixed when ray was imported
    before = set(user_results.iterdir()) if user_results.exists() else set()
    overrides = [*TINY, "agent=ppo_tiny", "ray.num_cpus=1", "train.iterations=3", "train.eval_every=1"]
    cfg = load_config([*overrides, "train.keep_last=1", "train.best_metric=net_return"])
    try:
        result = train(cfg, show_progress=False)
    finally:
        ray.shutdown()
    run_dir, checkpoints = result.paths.run_dir, result.paths.checkpoints
    assert (run_dir / "config.yaml").exists() and (run_dir / "run.json").exists()
    # Ray's and RLlib's own files stay out of the run folder and the user's ~/ray_results
    assert sorted(p.name for p in run_dir.iterdir()) == ["checkpoints", "config.yaml", "eval", "run.json"]
    assert (set(user_results.iterdir()) if user_results.exists() else set()) == before
    assert str(user_results) == trainable.DEFAULT_STORAGE_PATH
    # no Ray banner, no deprecation warning on the console
    console = capfd.readouterr()
    for noise in ("new API stack", "DeprecationWarning", "Deprecat", "Overriding environment"):
        assert noise not in console.err + console.out

    # Retention: the newest checkpoint (final) plus the best one; best holds the highest validation return.
    board = result.paths.tensorboard_root / result.paths.run_name
    validation = read_scalars(board / "validation")["trading/net_return"]
    best_iteration = 1 + int(np.argmax([value for _, value in validation]))
    kept = {it for it, _ in iteration_checkpoints(checkpoints)}
    assert kept == {3, best_iteration}
    assert read_info(checkpoints / FINAL).iteration == 3
    assert read_info(checkpoints / BEST).iteration == best_iteration
    assert result.best == checkpoints / BEST

    # TensorBoard: RL scalars in the run, the validation and the training curve in two runs under the same
    # tags at the same env steps (the overfitting gap at a glance).
    scalars = read_scalars(board)
    assert {"rl/policy_loss", "rl/vf_loss", "rl/entropy", "rl/env_steps_per_s"} <= set(scalars)
    assert all(kl > 0.0 for _, kl in scalars["rl/kl"])  # the policy KL of each update, not a constant 0
    train_curve = read_scalars(board / "train")
    assert set(TRADING_TAGS.values()) <= set(train_curve) and set(TRADING_TAGS.values()) <= set(
        read_scalars(board / "validation")
    )
    steps = [256, 512, 768]
    assert [s for s, _ in validation] == steps and [s for s, _ in train_curve["trading/net_return"]] == steps
    assert ACTION_HISTOGRAM_TAG in read_histogram_tags(board / "validation")
    assert result.env_steps == 3 * 256

    # evaluate uses best by default; twice gives the same figures and one TensorBoard point, not two
    first = evaluate_checkpoint(run_dir)
    second = evaluate_checkpoint(run_dir)
    assert first.checkpoint == checkpoints / BEST
    assert first.metrics == second.metrics
    assert first.tensorboard_written and not second.tensorboard_written
    test_points = read_scalars(board / "test")["trading/net_return"]
    assert test_points == [
        (read_info(checkpoints / BEST).env_steps, pytest.approx(first.metrics["net_return"]))
    ]
    # the restored final module acts like the trained one: the same validation figures as at the end
    same_split = evaluate_checkpoint(run_dir, [f"experiment.test_split={cfg.train.eval_split}"], use="final")
    assert result.evaluation is not None
    assert same_split.metrics == result.evaluation.metrics.as_dict()

    # Refused in one line: another observation layout, a missing part, another agent kind.
    with pytest.raises(ConfigError, match=r"another observation layout.*window 32 vs 8"):
        evaluate_checkpoint(checkpoints / FINAL, ["env.window=8"])
    broken = tmp_path / "runs" / "broken" / "checkpoints" / "iter_000003"
    shutil.copytree(run_dir, broken.parents[1], symlinks=True)
    shutil.rmtree(broken / "learner_group" / "learner" / "rl_module")
    with pytest.raises(ConfigError, match=r"damaged or incomplete.*missing learner_group/learner/rl_module"):
        evaluate_checkpoint(broken)
    resumed = [*overrides, "train.iterations=4", f"train.resume={broken}"]
    try:
        with pytest.raises(ConfigError, match=r"damaged or incomplete.*missing"):
            train(load_config(resumed), show_progress=False)
        with pytest.raises(
            ConfigError, match=r"checkpoint of agent ppo \(rllib\), not of the configured agent"
        ):
            train(load_config([*resumed, "agent=sb3_ppo_tiny", f"train.resume={checkpoints / FINAL}"]))
    finally:
        ray.shutdown()


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
def test_sb3_checkpoint_that_is_not_a_zip_is_one_line(tmp_path: Path) -> None:
    from experiments.commands.evaluate import evaluate_checkpoint
    from experiments.training.run import train

    base = [*TINY, "agent=sb3_ppo_tiny", "train.iterations=1"]
    result = train(load_config(base), show_progress=False)
    broken = tmp_path / "broken"
    shutil.copytree(result.paths.run_dir, broken, symlinks=True)
    (broken / "checkpoints" / "iter_000001" / "model.zip").write_text("not a zip archive")
    with pytest.raises(ConfigError, match=r"damaged or incomplete.*model.zip is not a zip archive"):
        evaluate_checkpoint(broken)
    resume = [*base, "train.iterations=2", f"train.resume={broken / 'checkpoints' / 'final'}"]
    with pytest.raises(ConfigError, match=r"model.zip is not a zip archive"):
        train(load_config(resume), show_progress=False)
    (broken / "checkpoints" / "iter_000001" / "checkpoint.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"checkpoint.json is damaged"):
        evaluate_checkpoint(broken / "checkpoints" / "final")


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
    same_split = evaluate_checkpoint(
        result.checkpoint, [f"experiment.test_split={cfg.train.eval_split}"], use="final"
    )
    assert result.evaluation is not None
    assert same_split.metrics == result.evaluation.metrics.as_dict()

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
