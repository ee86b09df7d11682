"""``asterrl train -m hydra/sweeper=ray_tune``: the grid it builds and a real sweep on a local Ray."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from hydra_plugins.asterrl_ray_tune.grid import SweepError, sweep_grid
from hydra_plugins.asterrl_ray_tune.results import Cell, format_table, write_csv
from hydra_plugins.asterrl_ray_tune.sweeper import RayTuneSweeper

REPO_ROOT = Path(__file__).resolve().parents[2]


def _grid(*overrides: str):  # type: ignore[no-untyped-def]
    return sweep_grid(OverridesParser.create().parse_overrides(list(overrides)))


def test_grid_is_the_product_of_comma_lists_choices_and_ranges() -> None:
    grid = _grid("data=synthetic", "agent.lr=1e-4,3e-4", "seed=range(0,3)", "agent=choice(ppo,sb3_ppo)")
    assert grid.fixed == ("data=synthetic",)
    assert dict(grid.axes) == {
        "agent.lr": ("0.0001", "0.0003"),
        "seed": ("0", "1", "2"),
        "agent": ("ppo", "sb3_ppo"),
    }
    points = grid.points()
    assert len(points) == 2 * 3 * 2
    # The last key varies fastest, as in Hydra's basic sweeper.
    assert points[0] == ("0.0001", "0", "ppo")
    assert points[1] == ("0.0001", "0", "sb3_ppo")
    assert points[11] == ("0.0003", "2", "sb3_ppo")
    assert grid.overrides(points[5]) == ["data=synthetic", "agent.lr=0.0001", "seed=2", "agent=sb3_ppo"]


def test_a_key_given_twice_keeps_its_last_value_and_nothing_swept_is_one_trial() -> None:
    grid = _grid("seed=0,1", "data=synthetic", "seed=5")
    assert dict(grid.axes) == {}
    assert grid.fixed == ("seed=5", "data=synthetic")
    assert grid.points() == [()]


def test_a_sweep_without_a_finite_list_is_rejected() -> None:
    with pytest.raises(SweepError, match="interval"):
        _grid("agent.lr=interval(1e-5,1e-3)")


def test_trial_resources_are_validated() -> None:
    assert RayTuneSweeper(resources_per_trial={"cpu": 0.5, "gpu": 0}).resources.cpu == 0.5
    with pytest.raises(SweepError, match="cpu and gpu"):
        RayTuneSweeper(resources_per_trial={"cpu": 1, "memory": 2})
    with pytest.raises(SweepError, match="not both 0"):
        RayTuneSweeper(resources_per_trial={"cpu": 0, "gpu": 0})
    with pytest.raises(SweepError, match="max_concurrent_trials"):
        RayTuneSweeper(max_concurrent_trials=0)


def test_results_table_and_csv(tmp_path: Path) -> None:
    rows: list[dict[str, Cell]] = [
        {"job": 0, "agent.lr": "0.0001", "status": "ok", "net_return": 0.0123456},
        {"job": 1, "agent.lr": "0.0003", "status": "failed", "error": "boom"},
    ]
    path = write_csv(rows, tmp_path / "results.csv")
    with path.open() as handle:
        read = list(csv.DictReader(handle))
    assert read == [
        {"job": "0", "agent.lr": "0.0001", "status": "ok", "net_return": "0.0123456", "error": ""},
        {"job": "1", "agent.lr": "0.0003", "status": "failed", "net_return": "", "error": "boom"},
    ]
    lines = format_table(rows, hidden=("error",)).splitlines()
    assert lines[0].split() == ["job", "agent.lr", "status", "net_return"]
    assert lines[1].split() == ["0", "0.0001", "ok", "0.01235"]
    assert lines[2].split() == ["1", "0.0003", "failed"]


@pytest.fixture
def deep_home() -> Iterator[Path]:
    """An ASTERRL_HOME far deeper than Ray's socket paths allow (Ray's files go elsewhere)."""
    home = Path(tempfile.mkdtemp(prefix="art", dir="/tmp")) / ("d" * 60) / ("e" * 60)
    home.mkdir(parents=True)
    yield home
    shutil.rmtree(home.parents[1], ignore_errors=True)


def _processes_mentioning(text: str) -> list[int]:
    """Ids of live processes whose command line contains ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _children_named(parent: int, names: tuple[str, ...]) -> list[int]:
    """Ids of child processes of ``parent`` whose executable name is one of ``names``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            if ppid == parent and name in names:
                found.append(int(entry.name))
    return found


@pytest.mark.slow
def test_ray_tune_sweep_of_rllib_runs_one_trial_per_learning_rate(deep_home: Path) -> None:
    # In a subprocess like the basic multirun test: Hydra reconfigures logging, Ray starts its own processes.
    sweep_dir = deep_home / "sw"
    user_home = deep_home / "user"  # stands in for ~ : nothing may land in ~/ray_results
    user_home.mkdir()
    lrs = {"0.0001": 1e-4, "0.0003": 3e-4}
    args = [
        "train",
        "-m",
        "hydra/sweeper=ray_tune",
        "agent=ppo_tiny",
        "experiment=smoke",
        "data=synthetic",
        "data.start=2023-01-01",
        "data.end=2023-04-01",
        "train.iterations=1",
        "train.progress=false",
        "ray.num_cpus=2",
        "hydra.sweeper.max_concurrent_trials=2",
        f"hydra.sweep.dir={sweep_dir}",
        "agent.lr=" + ",".join(lrs),
    ]
    env = {**os.environ, "ASTERRL_HOME": str(deep_home), "HOME": str(user_home), "RAY_AUTH_MODE": "disabled"}
    done = subprocess.run(
        [sys.executable, "-m", "experiments.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr

    # One run per learning rate, each recording the rate it trained with.
    runs = sorted(p for p in (deep_home / "runs" / "smoke-synthetic").iterdir() if p.name.startswith("ppo"))
    assert [p.name for p in runs] == ["ppo-s0-agent.lr=0.0001", "ppo-s0-agent.lr=0.0003"]
    for run, lr in zip(runs, lrs.values(), strict=True):
        assert OmegaConf.load(run / "config.yaml").agent.lr == pytest.approx(lr)
        assert json.loads((run / "run.json").read_text())["seed"] == 0

    # The results table: one row per trial, the metrics each run wrote for its final evaluation.
    with (sweep_dir / "results.csv").open() as handle:
        rows = sorted(csv.DictReader(handle), key=lambda row: row["agent.lr"])
    assert [row["agent.lr"] for row in rows] == list(lrs)
    assert [row["status"] for row in rows] == ["ok", "ok"]
    for row, run in zip(rows, runs, strict=True):
        assert Path(row["run_dir"]) == run
        recorded = json.loads((run / "eval" / "validation.json").read_text())
        for metric in ("net_return", "sharpe", "max_drawdown", "fees_paid"):
            assert float(row[metric]) == pytest.approx(recorded[metric], rel=1e-12, abs=1e-12)
    assert "net_return" in done.stdout and "results:" in done.stdout

    # Hydra's per-job records and Tune's records in the sweep directory; Ray's own files were in a short
    # folder under /tmp, removed with the session; nothing in ~.
    assert {p.name for p in sweep_dir.iterdir() if p.name.isdigit()} == {"0", "1"}
    assert len(list((sweep_dir / "tune").glob("job*"))) == 2
    assert not (sweep_dir / "ray").exists()
    assert not (user_home / "ray_results").exists()

    # Ray was stopped: no process of that session is left, none of them a child of this one.
    import ray

    assert not ray.is_initialized()
    assert _processes_mentioning(str(deep_home)) == []
    assert _children_named(os.getpid(), ("raylet", "gcs_server")) == []
