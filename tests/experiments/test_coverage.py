"""Training records how much of the training split its episodes covered, and warns when it stays low."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from envs.coverage import EpisodeCoverage, merge
from experiments.config import load_config
from experiments.training.progress import CoverageWatch
from experiments.training.tensorboard import read_scalars

TINY = ["data=synthetic", "experiment=smoke", "train.progress=false", "env.episode_length=16"]


def test_the_watch_warns_once_when_episodes_keep_repeating_one_window() -> None:
    repeated = EpisodeCoverage(100, 900, 1000)  # 901 tradable bars: judged after 1,802 finished bars
    watch = CoverageWatch(0.5, (100, 900, 1000))
    for it in range(1, 8):  # every episode starts at bar 500 and runs 100 bars: the bug of issue 9
        repeated.record_starts(np.full(4, 500))
        repeated.record_spans(np.full(4, 500), np.full(4, 599))
        assert repeated.summary().finished_bars == it * 4 * 100
        warning = watch.update(it, it * 500, repeated.summary())
        if it * 400 < 2 * 901:
            assert warning is None  # too few finished bars to expect coverage yet
        elif it == 5:
            assert warning is not None and "11.1%" in warning and "1 distinct starts" in warning
        else:
            assert warning is None  # once
    record = watch.record()
    assert record["coverage_warning"] == watch.warning
    assert [row["iteration"] for row in record["coverage"]] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]  # type: ignore[index]


def test_the_watch_is_quiet_when_episodes_cover_the_split() -> None:
    spread = EpisodeCoverage(0, 800, 900)
    watch = CoverageWatch(0.5, (0, 800, 900))
    starts = np.arange(0, 800, 50)
    spread.record_starts(starts)
    spread.record_spans(starts, starts + 199)  # 15 x 200 bars and 750..900 (the split ends): judged
    assert spread.summary().finished_bars == 15 * 200 + 151 and spread.summary().bars_visited_share == 1.0
    assert watch.update(1, 10_000, spread.summary()) is None


def test_the_watch_waits_for_enough_finished_bars_when_many_accounts_run_at_once() -> None:
    # 256 accounts with 720-step episodes over a 24,001-bar split: after 66k env steps no account has run
    # a whole episode; only the ones a risk limit stopped early have finished. 100 of them (more than two
    # splits' worth of whole episodes) still visit few bars: the visited share says nothing yet.
    split = (0, 23_280, 24_000)
    many = EpisodeCoverage(*split)
    starts = np.random.default_rng(0).integers(0, 23_280, 356)
    many.record_starts(starts)
    many.record_spans(starts[:100], starts[:100] + 49)  # 100 early ends of 50 bars
    watch = CoverageWatch(0.5, split)
    assert many.summary().bars_visited_share < 0.5 and many.summary().finished_bars == 5_000
    assert watch.update(4, 66_488, many.summary()) is None
    # once the finished episodes have stepped through 2 x 24,001 bars and still cover little, it warns
    repeated = EpisodeCoverage(*split)
    repeated.record_starts(np.full(100, 1_000))
    repeated.record_spans(np.full(100, 1_000), np.full(100, 1_719))
    warning = watch.update(12, 196_608, repeated.summary())
    assert warning is not None and "1 distinct starts" in warning


def test_finished_bars_add_up_across_envs_and_survive_a_restore() -> None:
    a, b = EpisodeCoverage(10, 40, 50), EpisodeCoverage(10, 40, 50)
    a.record_spans(np.array([10, 45]), np.array([19, 60]))  # 10 bars, then 45..50 (the split ends at 50)
    b.record_spans(12, 14)  # 3 bars
    merged = merge([a.snapshot(), b.snapshot()])
    assert (a.summary().finished_bars, merged.finished_bars) == (16, 19)
    restored = EpisodeCoverage(10, 40, 50)
    restored.restore(merged)
    restored.record_spans(20, 21)
    assert restored.summary().finished_bars == 21


@pytest.mark.slow
def test_rllib_runners_draw_different_starts_and_the_run_records_coverage(tmp_path: Path) -> None:
    import ray

    from experiments.training.run import train
    from experiments.training.trainers import _runner_coverage

    cfg = load_config(
        [
            *TINY,
            "agent=ppo_tiny",
            "agent.num_env_runners=2",
            "agent.num_envs_per_env_runner=2",
            "ray.num_cpus=2",
            "train.iterations=3",
            f"experiment.root={tmp_path}",
        ]
    )
    from experiments.training import trainers

    seen: list[list[np.ndarray]] = []
    original = trainers.RLlibTrainer.coverage

    def per_runner(self: trainers.RLlibTrainer) -> object:
        group = self.algo.env_runner_group
        assert group is not None
        snapshots = group.foreach_env_runner(_runner_coverage, local_env_runner=False)
        seen.append([s.start_counts for s in snapshots if s is not None])
        return original(self)

    trainers.RLlibTrainer.coverage = per_runner  # type: ignore[method-assign]
    try:
        result = train(cfg, show_progress=False)
    finally:
        trainers.RLlibTrainer.coverage = original  # type: ignore[method-assign]
        ray.shutdown()
    first, second = seen[-1]
    assert first.sum() >= 8 and second.sum() >= 8  # each runner started many episodes ...
    assert np.count_nonzero(first) >= first.sum() - 1  # ... nearly all at different bars
    assert not np.array_equal(first, second)  # and the two runners did not draw the same starts
    record = json.loads((result.paths.run_dir / "run.json").read_text())
    log = record["coverage"]
    assert [row["iteration"] for row in log] == [1.0, 2.0, 3.0]
    assert log[-1]["episodes"] == first.sum() + second.sum()
    assert log[-1]["distinct_starts"] > log[0]["distinct_starts"] > 1
    scalars = read_scalars(result.paths.tensorboard_root / result.paths.run_name)
    assert {"coverage/distinct_starts", "coverage/bars_visited_share"} <= set(scalars)


@pytest.mark.slow
def test_sb3_run_records_coverage(tmp_path: Path) -> None:
    from experiments.training.run import train

    cfg = load_config([*TINY, "agent=sb3_ppo_tiny", "train.iterations=3", f"experiment.root={tmp_path}"])
    result = train(cfg, show_progress=False)
    log = json.loads((result.paths.run_dir / "run.json").read_text())["coverage"]
    assert len(log) == 3
    assert log[-1]["distinct_starts"] >= log[-1]["episodes"] - 2 > 20
    assert 0.0 < log[-1]["bars_visited_share"] <= 1.0
