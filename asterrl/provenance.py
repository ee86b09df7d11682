"""What a run records about itself, so that it can be reproduced: config, seed, data hash, versions."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from asterrl.files import atomic_write, atomic_write_json

#: Distributions whose versions every run records.
TRACKED_PACKAGES = (
    "asterrl", "numpy", "pandas", "pyarrow", "duckdb", "numba", "torch", "ray", "gymnasium",
    "stable-baselines3", "hydra-core", "omegaconf", "xgboost-cpu", "tensorboard",
)  # fmt: skip


def package_versions(names: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str]:
    """Installed version of each distribution (``"absent"`` when not installed)."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def git_revision(path: Path | None = None) -> str | None:
    """The repository's commit (with ``-dirty`` when it has uncommitted changes), or ``None``."""
    cwd = path or Path(__file__).resolve().parents[1]
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5)
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, timeout=5)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return rev.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def run_record(seed: int, data_hash: str | None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The provenance of a run as a JSON-ready dict."""
    return {
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seed": seed,
        "data_hash": data_hash,
        "git": git_revision(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
        "env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "CUDA_VISIBLE_DEVICES") if k in os.environ},
        **(extra or {}),
    }


def write_run_record(
    run_dir: Path, config_yaml: str, seed: int, data_hash: str | None, extra: dict[str, Any] | None = None
) -> Path:
    """Write ``config.yaml`` (the resolved config) and ``run.json`` (provenance) into ``run_dir``."""
    atomic_write(run_dir / "config.yaml", config_yaml)
    return atomic_write_json(run_dir / "run.json", run_record(seed, data_hash, extra), sort_keys=True)
