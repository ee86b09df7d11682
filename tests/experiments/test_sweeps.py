"""The README's sweep (``asterrl train -m agent.lr=1e-4,3e-4 seed=0,1``) with RLlib and SB3, under the default
``~/.asterrl`` and under a deep ``ASTERRL_HOME``; Ray's files never sit at a path too long for its sockets.

Each sweep runs in a subprocess: Hydra's multirun reconfigures logging, and Ray starts its own processes.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
#: The README's sweep, made small: two months of the synthetic market, one tiny iteration per run.
README_SWEEP = ["train", "-m", "agent.lr=1e-4,3e-4", "seed=0,1"]
SMALL = [
    "data=synthetic",
    "data.start=2023-01-01",
    "data.end=2023-03-01",
    "train.iterations=1",
    "--no-progress",
]


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "experiments.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "RAY_AUTH_MODE": "disabled", **env},
        timeout=900,
    )


@pytest.fixture
def short_home() -> Iterator[Path]:
    """A home folder as short as /root or /home/user: its ~/.asterrl is the default ASTERRL_HOME."""
    home = Path(tempfile.mkdtemp(prefix="h", dir="/tmp"))
    yield home
    shutil.rmtree(home, ignore_errors=True)


def _results(sweep_root: Path) -> list[dict[str, str]]:
    tables = list(sweep_root.glob("hydra/multirun-*/results.csv"))
    assert len(tables) == 1, tables
    with tables[0].open() as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
@pytest.mark.parametrize("home", ["default", "deep"])
def test_readme_sweep_with_rllib_under_the_default_and_a_deep_home(short_home: Path, home: str) -> None:
    os_env = {k: v for k, v in os.environ.items() if k != "ASTERRL_HOME"}
    asterrl_home = short_home / ".asterrl"  # the default: ~/.asterrl
    if home == "deep":  # 140 characters before runs/: every run folder far beyond Ray's socket limit
        asterrl_home = short_home / ("d" * 60) / ("e" * 60) / "asterrl"
        os_env["ASTERRL_HOME"] = str(asterrl_home)
    done = subprocess.run(
        [sys.executable, "-m", "experiments.cli", *README_SWEEP, *SMALL, "agent=ppo_tiny", "ray.num_cpus=1"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os_env, "RAY_AUTH_MODE": "disabled", "HOME": str(short_home)},
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    root = asterrl_home / "runs" / "default-synthetic"
    runs = sorted(p.name for p in root.iterdir() if p.name.startswith("ppo"))
    assert runs == [
        "ppo-s0-agent.lr=0.0001,seed=0",
        "ppo-s0-agent.lr=0.0003,seed=0",
        "ppo-s1-agent.lr=0.0001,seed=1",
        "ppo-s1-agent.lr=0.0003,seed=1",
    ]
    rows = _results(root)
    assert [(r["job"], r["agent.lr"], r["seed"], r["status"]) for r in rows] == [
        ("0", "0.0001", "0", "ok"),
        ("1", "0.0001", "1", "ok"),
        ("2", "0.0003", "0", "ok"),
        ("3", "0.0003", "1", "ok"),
    ]
    # the same table as the Ray Tune sweeper's, printed: job, the swept keys, status, then the figures
    header = next(line for line in done.stdout.splitlines() if line.startswith("job"))
    assert header.split()[:5] == ["job", "agent.lr", "seed", "status", "env_steps"]
    assert "validate_socket_filename" not in done.stderr and "new API stack" not in done.stderr
    assert not (REPO_ROOT / "~").exists()
    assert not (short_home / "ray_results").exists()


@pytest.mark.slow
def test_rllib_run_whose_run_folder_would_overflow_ray_socket_paths(tmp_path: Path) -> None:
    # Ray's longest socket is <temp>/session_<date>_<pid>/sockets/plasma_store: 62 bytes after <temp>.
    # A run folder of 46 to 60 characters (ASTERRL_HOME of 29 here) used to hold Ray's files and overflow.
    home = Path(tempfile.mkdtemp(prefix="asterrl-socket-", dir="/tmp"))
    try:
        assert 46 <= len(str(home / "runs" / "smoke" / "ppo-s0" / "ray")) <= 60
        done = _run(
            ["train", *SMALL, "experiment=smoke", "agent=ppo_tiny", "ray.num_cpus=1"],
            {"ASTERRL_HOME": str(home), "HOME": str(tmp_path)},
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert (home / "runs" / "smoke-synthetic" / "ppo-s0" / "checkpoints" / "final").is_dir()
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.slow
def test_readme_sweep_with_sb3_under_a_deep_home(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60) / "asterrl"
    done = _run(
        [*README_SWEEP[:2], "agent.lr=1e-4,3e-4", *SMALL, "agent=sb3_ppo_tiny"], {"ASTERRL_HOME": str(deep)}
    )
    assert done.returncode == 0, done.stderr[-3000:]
    root = deep / "runs" / "default-synthetic"
    runs = sorted(p.name for p in root.iterdir() if p.name.startswith("sb3"))
    assert runs == ["sb3_ppo-s0-agent.lr=0.0001", "sb3_ppo-s0-agent.lr=0.0003"]
    assert [r["status"] for r in _results(root)] == ["ok", "ok"]
