"""Run directories: one folder per experiment with one TensorBoard root, one run folder per agent and seed.

Layout::

    <experiment.root>/<experiment.name>/
        tensorboard/<run>/          events of every run of the experiment (``tensorboard --logdir``)
        <run>/                      config.yaml, run.json (seed, data hash, versions), checkpoints/, eval/
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asterrl.files import atomic_write_json
from asterrl.provenance import write_run_record
from experiments.config import to_yaml


@dataclass(frozen=True)
class RunPaths:
    """Folders of one run."""

    experiment_dir: Path
    run_name: str

    @property
    def run_dir(self) -> Path:
        return self.experiment_dir / self.run_name

    @property
    def tensorboard_root(self) -> Path:
        return self.experiment_dir / "tensorboard"

    @property
    def checkpoints(self) -> Path:
        return self.run_dir / "checkpoints"


def experiment_dir(cfg: Any) -> Path:
    """``<experiment.root>/<experiment.name>`` with ``~`` expanded."""
    return Path(cfg.experiment.root).expanduser() / cfg.experiment.name


def run_name(agent: str, seed: int, tag: str = "") -> str:
    """``<agent>-s<seed>`` plus ``-<tag>`` (e.g. a sweep's overrides)."""
    safe = "".join(ch if ch.isalnum() or ch in "._=-," else "_" for ch in tag)
    return f"{agent}-s{seed}" + (f"-{safe}" if safe else "")


def new_run(cfg: Any, agent: str, seed: int, tag: str = "", reuse: bool = False) -> RunPaths:
    """Paths of a new run; a name already taken gets ``-2``, ``-3``... unless ``reuse`` (resuming)."""
    root = experiment_dir(cfg)
    base = run_name(agent, seed, tag)
    name = base
    counter = 2
    while not reuse and (root / name).exists():
        name = f"{base}-{counter}"
        counter += 1
    paths = RunPaths(root, name)
    paths.run_dir.mkdir(parents=True, exist_ok=True)
    return paths


def record_run(
    paths: RunPaths, cfg: Any, seed: int, data_hash: str, extra: dict[str, Any] | None = None
) -> Path:
    """Write the resolved config, seed, data hash and package versions into the run directory."""
    info = {"run_name": paths.run_name, "experiment": paths.experiment_dir.name, **(extra or {})}
    return write_run_record(paths.run_dir, to_yaml(cfg), seed, data_hash, info)


def update_run_json(paths: RunPaths, fields: dict[str, Any]) -> Path:
    """Add or replace top-level ``fields`` of the run's ``run.json`` (written whole, atomically)."""
    path = paths.run_dir / "run.json"
    record = json.loads(path.read_text()) if path.exists() else {}
    record.update(fields)
    return write_json(path, record)


def write_json(path: Path, payload: dict[str, Any]) -> Path:
    """Sorted, indented JSON written atomically (``asterrl.files``)."""
    return atomic_write_json(path, payload, sort_keys=True)
