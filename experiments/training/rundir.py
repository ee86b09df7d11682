"""Run directories: one folder per experiment with one TensorBoard root, one run folder per agent and seed.

Layout::

    <experiment.root>/<experiment.name>[-synthetic]/
        tensorboard/<run>/          events of every run of the experiment (``tensorboard --logdir``)
        <run>/                      config.yaml, run.json (status, seed, data hash, versions), checkpoints/,
                                    eval/

Runs on the synthetic market go to ``<name>-synthetic``: synthetic and real-data runs never share an
experiment folder. ``run.json`` carries the run's ``status``: ``running``, ``complete``, ``interrupted`` or
``failed`` (with the error), so that a run that did not finish never looks complete.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from asterrl.files import atomic_write, atomic_write_json
from asterrl.provenance import run_record
from experiments.config import to_yaml
from experiments.schema import AsterRLConfig
from experiments.training.config import experiment_folder

RUN_JSON = "run.json"
CONFIG_YAML = "config.yaml"
#: Config keys that say how a run is carried out, not what it trains: a resume with other values continues
#: the same run.
CARRY_KEYS = (
    "train.iterations",
    "train.resume",
    "train.progress",
    "train.checkpoint_every",
    "train.keep_last",
    "ray",
    "experiment.agents",
    "experiment.seeds",
    "experiment.retrain",
)
#: Config keys a finished run may differ in and still serve ``compare`` (how it ran, not what it trained).
REUSE_IGNORED = (
    "train.resume",
    "train.progress",
    "ray",
    "experiment.agents",
    "experiment.seeds",
    "experiment.retrain",
    "experiment.test_split",
)


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
    def tensorboard_run(self) -> Path:
        return self.tensorboard_root / self.run_name

    @property
    def checkpoints(self) -> Path:
        return self.run_dir / "checkpoints"


def experiment_dir(cfg: AsterRLConfig) -> Path:
    """``<experiment.root>/<experiment.name>`` with ``~`` expanded, ``-synthetic`` appended on the
    synthetic market."""
    return experiment_folder(cfg.experiment.root, cfg.experiment.name, str(cfg.data.source))


def run_name(agent: str, seed: int, tag: str = "") -> str:
    """``<agent>-s<seed>`` plus ``-<tag>`` (e.g. a sweep's overrides)."""
    safe = "".join(ch if ch.isalnum() or ch in "._=-," else "_" for ch in tag)
    return f"{agent}-s{seed}" + (f"-{safe}" if safe else "")


def free_run(root: Path, base: str) -> RunPaths:
    """Paths of a run named ``base``, or ``base-2``, ``base-3``... when taken (nothing is created)."""
    name, counter = base, 2
    while (root / name).exists() or (root / "tensorboard" / name).exists():
        name = f"{base}-{counter}"
        counter += 1
    return RunPaths(root, name)


def create_run(
    paths: RunPaths, cfg: AsterRLConfig, data_hash: str, extra: dict[str, Any] | None = None
) -> Path:
    """Create the run folder with ``config.yaml`` and ``run.json`` (status ``running``)."""
    paths.run_dir.mkdir(parents=True, exist_ok=False)
    info = {"run_name": paths.run_name, "experiment": paths.experiment_dir.name, **(extra or {})}
    write_text(paths.run_dir / CONFIG_YAML, to_yaml(cfg))
    record = run_record(cfg.seed, data_hash, info)
    record["status"] = "running"
    return write_json(paths.run_dir / RUN_JSON, record)


def read_run_json(run_dir: Path) -> dict[str, Any]:
    path = run_dir / RUN_JSON
    if not path.exists():
        return {}
    try:
        record = json.loads(path.read_text())
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


def update_run_json(paths: RunPaths, fields: dict[str, Any]) -> Path:
    """Add or replace top-level ``fields`` of the run's ``run.json`` (written whole, then renamed)."""
    record = read_run_json(paths.run_dir)
    record.update(fields)
    return write_json(paths.run_dir / RUN_JSON, record)


def remove_run(paths: RunPaths) -> None:
    """Delete a run that left nothing worth keeping (its folder and its TensorBoard run)."""
    shutil.rmtree(paths.run_dir, ignore_errors=True)
    shutil.rmtree(paths.tensorboard_run, ignore_errors=True)


def config_differences(cfg: AsterRLConfig, run_dir: Path, ignore: tuple[str, ...] = CARRY_KEYS) -> list[str]:
    """Keys whose values differ between ``cfg`` and the run's ``config.yaml`` (keys under ``ignore`` left
    out)."""
    path = run_dir / CONFIG_YAML
    if not path.exists():
        return ["config.yaml (missing)"]
    mine = _flat(OmegaConf.to_container(OmegaConf.create(to_yaml(cfg)), resolve=True))
    theirs = _flat(OmegaConf.to_container(OmegaConf.load(path), resolve=True))
    keys = sorted(set(mine) | set(theirs))
    return [k for k in keys if not k.startswith(ignore) and mine.get(k) != theirs.get(k)]


def _flat(node: object, prefix: str = "") -> dict[str, object]:
    if isinstance(node, dict):
        out: dict[str, object] = {}
        for key, value in node.items():
            out.update(_flat(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): node}


def write_json(path: Path, payload: dict[str, Any]) -> Path:
    """Sorted, indented JSON written atomically (``asterrl.files``)."""
    return atomic_write_json(path, payload, sort_keys=True)


def write_text(path: Path, text: str) -> Path:
    """Text written atomically (``asterrl.files``)."""
    return atomic_write(path, text)


def load_run_config(run_dir: Path, agent_schema: str, overrides: list[str] | None = None) -> AsterRLConfig:
    """The typed config a run was trained with (its ``config.yaml``) plus ``overrides``, validated."""
    from agents.config import AGENT_SCHEMAS
    from asterrl.errors import ConfigError

    path = run_dir / CONFIG_YAML
    if not path.exists():
        raise ConfigError(f"run {run_dir} has no {CONFIG_YAML}")
    if agent_schema not in AGENT_SCHEMAS:
        raise ConfigError(f"run {run_dir}: unknown agent schema {agent_schema!r}")
    base = OmegaConf.structured(AsterRLConfig)
    base.agent = OmegaConf.structured(AGENT_SCHEMAS[agent_schema])
    try:
        merged = OmegaConf.merge(base, OmegaConf.load(path), OmegaConf.from_dotlist(list(overrides or [])))
        cfg = OmegaConf.to_object(merged)
    except Exception as exc:  # omegaconf raises several error types
        text = str(exc).strip().splitlines()[0]
        raise ConfigError(f"cannot use {path} with the given overrides: {text}") from None
    assert isinstance(cfg, AsterRLConfig)
    return cfg.validate()
