"""Resume: Ctrl-C and resume end where an uninterrupted run ends; counts, streams and curves continue; no
checkpoint is ever written twice; failures leave no run that looks complete."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from asterrl.errors import ConfigError
from experiments.config import load_config
from experiments.training.tensorboard import read_scalars

REPO_ROOT = Path(__file__).resolve().parents[2]
SMALL = ["data=synthetic", "data.start=2023-01-01", "data.end=2023-04-01", "experiment=smoke"]
SB3 = [*SMALL, "agent=sb3_ppo_tiny", "env.episode_length=64", "train.progress=false", "train.eval_every=4"]


def _cli(args: list[str], home: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "ASTERRL_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-m", "experiments.cli", *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _weights(checkpoint: Path) -> dict[str, torch.Tensor]:
    from stable_baselines3 import PPO

    return dict(PPO.load(str(checkpoint / "model.zip"), device="cpu").policy.state_dict())


def _wait_for(path: Path, process: subprocess.Popen[str], timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.02)


@pytest.mark.slow
def test_sb3_run_stopped_with_ctrl_c_and_resumed_ends_with_the_weights_of_one_that_never_stopped(
    _isolated_home: Path,
) -> None:
    from experiments.training.run import train

    n = 16
    base = [*SB3, "train.checkpoint_every=4", "train.keep_last=0", f"train.iterations={n}"]
    whole = train(load_config([*base, "experiment.name=whole"]))

    process = _cli(["train", *base, "experiment.name=cut"], _isolated_home)
    run_dir = _isolated_home / "runs" / "cut-synthetic" / "sb3_ppo-s0"
    _wait_for(run_dir / "checkpoints" / "iter_000004", process)
    process.send_signal(signal.SIGINT)  # Ctrl-C: stop after the current iteration, with a checkpoint
    _, err = process.communicate(timeout=300)
    assert process.returncode == 130, err
    record = json.loads((run_dir / "run.json").read_text())
    stopped = record["iterations_done"]
    assert record["status"] == "interrupted" and 4 <= stopped < n
    assert f"interrupted after iteration {stopped} of {n}" in err and "train.resume=" in err

    resumed = train(load_config([*base, "experiment.name=cut", f"train.resume={run_dir}"]))
    assert resumed.paths.run_dir == run_dir  # the same run continued, in its own folder
    # Same final weights, bit for bit, and the same figures as the run that never stopped.
    a, b = _weights(whole.checkpoint), _weights(resumed.checkpoint)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert whole.evaluation is not None and resumed.evaluation is not None
    assert resumed.evaluation.metrics == whole.evaluation.metrics
    # The count continued to train.iterations in total; TensorBoard holds one point per iteration.
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "complete" and record["iterations_done"] == n
    assert [r["iteration"] for r in record["resumes"]] == [stopped]
    steps = [s for s, _ in read_scalars(resumed.paths.tensorboard_run)["rl/env_steps"]]
    assert steps == [256 * i for i in range(1, n + 1)]
    assert [s for s, _ in read_scalars(resumed.paths.tensorboard_run / "validation")["trading/sharpe"]] == [
        256 * i for i in (4, 8, 12, 16)
    ]


@pytest.mark.slow
def test_resume_never_writes_a_checkpoint_twice_and_a_refused_resume_changes_nothing(
    _isolated_home: Path,
) -> None:
    from experiments.training.checkpoints import read_info
    from experiments.training.run import train

    base = [*SB3, "train.checkpoint_every=1", "train.keep_last=0"]
    first = train(load_config([*base, "train.iterations=4"]))
    checkpoints = first.paths.checkpoints

    def snapshot() -> dict[str, tuple[int, int]]:
        return {
            str(p.relative_to(first.paths.run_dir)): (p.stat().st_mtime_ns, p.stat().st_size)
            for p in first.paths.run_dir.rglob("*")
            if p.is_file()
        }

    before = snapshot()
    # Nothing left to train: one line, nothing touched.
    with pytest.raises(ConfigError, match=r"at iteration 4, train.iterations=4: raise train.iterations"):
        train(load_config([*base, "train.iterations=4", f"train.resume={checkpoints / 'final'}"]))
    # An older checkpoint while newer ones exist: the resumed run branches into a new folder.
    branch = train(load_config([*base, "train.iterations=6", f"train.resume={checkpoints / 'iter_000002'}"]))
    assert branch.paths.run_dir.name == f"{first.paths.run_name}-2"
    assert snapshot() == before  # the first run's checkpoints and records are untouched
    assert read_info(branch.checkpoint).iteration == 6 and branch.env_steps == 6 * 256
    assert read_info(branch.paths.checkpoints / "iter_000003").env_steps == 3 * 256
    assert not (branch.paths.checkpoints / "iter_000002").exists()  # it starts after the checkpoint
    record = json.loads((branch.paths.run_dir / "run.json").read_text())
    assert record["resumed_from"]["checkpoint"].endswith("iter_000002")
    # The newest checkpoint with the same config continues in place: final moves, nothing is rewritten.
    extended = train(load_config([*base, "train.iterations=5", f"train.resume={first.paths.run_dir}"]))
    assert extended.paths.run_dir == first.paths.run_dir
    after = snapshot()
    saved = [k for k in before if k.startswith("checkpoints/iter_")]
    assert saved and {k: after[k] for k in saved} == {k: before[k] for k in saved}
    assert read_info(checkpoints / "final").iteration == 5


@pytest.mark.slow
def test_failed_commands_leave_no_run(cli, _isolated_home: Path) -> None:  # type: ignore[no-untyped-def]
    runs = _isolated_home / "runs"
    bad_value = cli("train", *SB3, "risk.max_leverage=500")
    assert bad_value.code == 2 and "risk.max_leverage=500.0 must lie in" in bad_value.err
    splits = ["+env.splits.train=[2023-01-01,2023-02-28]", "+env.splits.test=[2023-03-01,2023-03-31]"]
    no_bars = cli("train", *SB3, *splits, "+env.splits.validation=[2030-01-01,2030-02-01]")
    assert no_bars.code == 2 and "env.splits.validation" in no_bars.err and "Traceback" not in no_bars.err
    # found only once the data is loaded: still before anything is written
    short = cli("train", *SB3, "env.window=3000")
    assert short.code == 2 and "split 'train' is too short for window 3000" in short.err
    assert not runs.exists() or not any(runs.rglob("run.json"))
    # Two quick Ctrl-C during the first iteration: nothing was saved, so nothing is left.
    big = [*SB3, "agent.train_batch_size=16384", "agent.minibatch_size=256", "train.iterations=20"]
    process = _cli(["train", *big, "train.checkpoint_every=0", "train.eval_every=0"], _isolated_home)
    run_dir = _isolated_home / "runs" / "smoke-synthetic" / "sb3_ppo-s0"
    _wait_for(run_dir / "run.json", process)
    process.send_signal(signal.SIGINT)
    time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 130 and "interrupted" in err
    assert not run_dir.exists()
    assert not (_isolated_home / "runs" / "smoke-synthetic" / "tensorboard" / "sb3_ppo-s0").exists()


@pytest.mark.slow
def test_rllib_resume_continues_iterations_env_steps_start_streams_and_curves() -> None:
    import ray

    from experiments.training.run import train

    base = [*SMALL, "agent=ppo_tiny", "env.episode_length=32", "train.progress=false", "ray.num_cpus=1"]
    try:
        first = train(load_config([*base, "train.iterations=2", "train.eval_every=2"]))
        resumed = train(
            load_config(
                [*base, "train.iterations=4", "train.eval_every=2", f"train.resume={first.paths.run_dir}"]
            )
        )
    finally:
        ray.shutdown()
    assert resumed.paths.run_dir == first.paths.run_dir
    assert resumed.env_steps == 4 * 256
    record = json.loads((resumed.paths.run_dir / "run.json").read_text())
    assert record["iterations_done"] == 4 and record["status"] == "complete"
    log = record["coverage"]
    assert [row["iteration"] for row in log] == [1.0, 2.0, 3.0, 4.0]
    # Counters continue across the resume, and the episode-start streams continue: the episodes after
    # it start at new bars instead of replaying the first ones.
    episodes = [row["episodes"] for row in log]
    assert episodes == sorted(episodes) and episodes[2] > episodes[1]
    assert log[3]["distinct_starts"] >= log[1]["distinct_starts"] + 0.5 * (episodes[3] - episodes[1])
    steps = [s for s, _ in read_scalars(resumed.paths.tensorboard_run)["rl/env_steps"]]
    assert steps == [256, 512, 768, 1024]
