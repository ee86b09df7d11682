"""Checkpoints of a run: what each records, how they are written, named, kept and checked before use.

Layout of ``<run>/checkpoints/``::

    iter_000050/    one folder per saved iteration: the trainer's files plus checkpoint.json
    best ->         link to the iteration with the best validation metric so far (train.best_metric)
    final ->        link to the last iteration of the finished run

A checkpoint is built in a hidden staging folder and renamed into place once complete, and an existing
checkpoint is never written again; retention (``train.keep_last``) deletes older periodic ones but never the
targets of ``best`` or ``final``. ``checkpoint.json`` says what the checkpoint is (agent, framework,
iteration, env steps, data hash, observation layout and actions, best so far, its files and their sizes),
so that a checkpoint of another agent kind or observation layout, or one with a file missing or cut short,
is refused with one line before anything loads it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agents.policy import Policy
from asterrl.errors import ConfigError
from asterrl.files import atomic_directory, atomic_write_json
from asterrl.observation import ObservationLayout

CHECKPOINT_INFO = "checkpoint.json"
SB3_MODEL = "model.zip"
RLLIB_MARKER = "rllib_checkpoint.json"
BEST = "best"
FINAL = "final"
_ITERATION_DIR = re.compile(r"^iter_(\d{6,})$")


@dataclass(frozen=True)
class PolicyInterface:
    """What a policy takes and gives: the env's observation layout and its action space.

    :param observation: window, feature columns, account fields (``asterrl.observation``).
    :param action_type: ``discrete`` or ``continuous``.
    :param n_actions: discrete actions (0 for continuous).
    """

    observation: ObservationLayout
    action_type: str
    n_actions: int

    def differences(self, other: PolicyInterface) -> str:
        """What differs from ``other`` in words (empty when they match)."""
        mine, theirs = self.observation, other.observation
        parts = []
        if mine.window != theirs.window:
            parts.append(f"window {mine.window} vs {theirs.window} bars")
        if mine.feature_columns != theirs.feature_columns:
            missing = [c for c in mine.feature_columns if c not in theirs.feature_columns]
            added = [c for c in theirs.feature_columns if c not in mine.feature_columns]
            detail = ", ".join([*(f"-{c}" for c in missing[:3]), *(f"+{c}" for c in added[:3])])
            parts.append(f"features {mine.n_features} vs {theirs.n_features} ({detail or 'order'})")
        if (mine.kind, mine.account_fields) != (theirs.kind, theirs.account_fields):
            parts.append(f"observation {mine.kind}/{len(mine.account_fields)} account fields vs "
                         f"{theirs.kind}/{len(theirs.account_fields)}")  # fmt: skip
        if (self.action_type, self.n_actions) != (other.action_type, other.n_actions):
            parts.append(
                f"actions {self.action_type}/{self.n_actions} vs {other.action_type}/{other.n_actions}"
            )
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "observation": self.observation.to_manifest(),
            "action_type": self.action_type,
            "n_actions": self.n_actions,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> PolicyInterface:
        obs = raw["observation"]
        layout = ObservationLayout(
            int(obs["window"]), tuple(obs["feature_columns"]), str(obs["kind"]), tuple(obs["account_fields"])
        )
        return cls(layout, str(raw["action_type"]), int(raw["n_actions"]))


@dataclass(frozen=True)
class BestSoFar:
    """The best validation figure of a run up to some iteration."""

    metric: str
    value: float
    iteration: int


@dataclass(frozen=True)
class CheckpointInfo:
    """The content of ``checkpoint.json``."""

    agent: str
    framework: str
    agent_schema: str
    iteration: int
    env_steps: int
    seed: int
    run_dir: str
    data_hash: str
    interface: PolicyInterface | None = None
    best: BestSoFar | None = None
    #: Every file of the checkpoint (path relative to it -> bytes), to tell a complete one from a damaged one.
    files: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["interface"] = self.interface.to_json() if self.interface else None
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> CheckpointInfo:
        interface = raw.get("interface")
        best = raw.get("best")
        return cls(
            agent=str(raw["agent"]),
            framework=str(raw["framework"]),
            agent_schema=str(raw["agent_schema"]),
            iteration=int(raw["iteration"]),
            env_steps=int(raw["env_steps"]),
            seed=int(raw["seed"]),
            run_dir=str(raw["run_dir"]),
            data_hash=str(raw["data_hash"]),
            interface=PolicyInterface.from_json(interface) if interface else None,
            best=BestSoFar(**best) if best else None,
            files={str(k): int(v) for k, v in (raw.get("files") or {}).items()},
        )


def iteration_dir(checkpoints: Path, iteration: int) -> Path:
    return checkpoints / f"iter_{iteration:06d}"


def read_info(checkpoint: Path) -> CheckpointInfo:
    """The ``checkpoint.json`` of ``checkpoint``; one clear error when it is missing or unreadable."""
    path = checkpoint / CHECKPOINT_INFO
    if not checkpoint.is_dir():
        raise ConfigError(f"{checkpoint} is not a folder (expected a checkpoints/<name> folder of a run)")
    if not path.exists():
        raise ConfigError(f"{checkpoint} is not an asterrl checkpoint (no {CHECKPOINT_INFO})")
    try:
        info = CheckpointInfo.from_json(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path} is damaged ({type(exc).__name__}: {exc})") from None
    return info


def write_checkpoint(target: Path, info: CheckpointInfo, save: Callable[[Path], object]) -> Path:
    """Build a checkpoint in a staging folder with ``save(folder)`` plus ``checkpoint.json``, then rename it
    to ``target``. An existing ``target`` is never replaced."""
    if target.exists():
        raise ConfigError(f"checkpoint {target} already exists; a run never writes a checkpoint twice")
    with atomic_directory(target) as staging:
        save(staging)
        files = {
            str(p.relative_to(staging)): p.stat().st_size for p in sorted(staging.rglob("*")) if p.is_file()
        }
        record = dataclasses.replace(info, files=files)
        atomic_write_json(staging / CHECKPOINT_INFO, record.to_json(), sort_keys=True)
    return target


def point_link(checkpoints: Path, name: str, target: Path) -> Path:
    """Make ``checkpoints/<name>`` a relative link to ``target`` (replaced atomically)."""
    link = checkpoints / name
    temporary = checkpoints / f".{name}.link"
    temporary.unlink(missing_ok=True)
    os.symlink(os.path.relpath(target, checkpoints), temporary)
    os.replace(temporary, link)
    return link


def iteration_checkpoints(checkpoints: Path) -> list[tuple[int, Path]]:
    """Complete iteration checkpoints of a run, oldest first."""
    if not checkpoints.is_dir():
        return []
    found = []
    for entry in checkpoints.iterdir():
        match = _ITERATION_DIR.match(entry.name)
        if match and entry.is_dir() and not entry.is_symlink() and (entry / CHECKPOINT_INFO).exists():
            found.append((int(match.group(1)), entry))
    return sorted(found)


def retain(checkpoints: Path, keep_last: int, protected: Iterable[Path]) -> list[Path]:
    """Delete iteration checkpoints beyond the newest ``keep_last`` (0 keeps all), except ``protected``
    ones and the targets of ``best`` and ``final``; returns the deleted folders."""
    if keep_last <= 0:
        return []
    keep = {p.resolve() for p in protected}
    for name in (BEST, FINAL):
        link = checkpoints / name
        if link.exists():
            keep.add(link.resolve())
    ordered = iteration_checkpoints(checkpoints)
    removed = []
    for _, path in ordered[: max(0, len(ordered) - keep_last)]:
        if path.resolve() not in keep:
            shutil.rmtree(path)
            removed.append(path)
    return removed


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete iteration checkpoint of a run (``None`` when it has none)."""
    found = iteration_checkpoints(run_dir / "checkpoints")
    return found[-1][1] if found else None


def resolve_checkpoint(path: Path, prefer: str = BEST) -> Path:
    """A checkpoint folder from a checkpoint folder or a run folder (then its ``prefer`` link, else
    ``final``, else its newest checkpoint)."""
    path = path.expanduser()
    if (path / CHECKPOINT_INFO).exists():
        return path
    checkpoints = path / "checkpoints"
    if checkpoints.is_dir():
        for name in (prefer, FINAL, BEST):
            if (checkpoints / name / CHECKPOINT_INFO).exists():
                return checkpoints / name
        latest = latest_checkpoint(path)
        if latest is not None:
            return latest
        raise ConfigError(f"run {path} has no complete checkpoint")
    if not path.exists():
        raise ConfigError(f"{path}: no such checkpoint or run folder")
    return path  # read_info names what is wrong with it


def run_dir_of(checkpoint: Path, info: CheckpointInfo) -> Path:
    """The run folder a checkpoint belongs to (where it lies now, else where it was written)."""
    here = checkpoint.resolve().parents[1]
    return here if (here / "config.yaml").exists() else Path(info.run_dir)


def check_kind(info: CheckpointInfo, checkpoint: Path, agent: str, framework: str, schema: str) -> None:
    """Refuse a checkpoint of another agent kind or framework than the config's agent."""
    if (info.framework, info.agent_schema) != (framework, schema):
        raise ConfigError(
            f"{checkpoint} is a checkpoint of agent {info.agent} ({info.framework}), not of the configured "
            f"agent {agent} ({framework})"
        )


def check_interface(info: CheckpointInfo, checkpoint: Path, interface: PolicyInterface) -> None:
    """Refuse a checkpoint whose observation layout or action space differs from the config's."""
    if info.interface is not None and info.interface != interface:
        raise ConfigError(
            f"{checkpoint} was trained on another observation layout than the config gives: "
            f"{info.interface.differences(interface) or 'layout'} (checkpoint vs config)"
        )


def verify_checkpoint(checkpoint: Path, info: CheckpointInfo) -> None:
    """Refuse, in one line, a checkpoint whose files cannot be what ``info`` says: an SB3 ``model.zip`` that
    is not a zip archive, an RLlib checkpoint without its marker, a file missing or cut short."""
    if info.framework == "sb3":
        model = checkpoint / SB3_MODEL
        if not model.is_file():
            raise damaged(checkpoint, FileNotFoundError(f"missing {SB3_MODEL}"))
        if not zipfile.is_zipfile(model):
            raise damaged(checkpoint, ValueError(f"{SB3_MODEL} is not a zip archive"))
    elif not (checkpoint / RLLIB_MARKER).is_file():
        raise damaged(checkpoint, FileNotFoundError(f"missing {RLLIB_MARKER}"))
    check_files(checkpoint, info)


def load_policy(checkpoint: Path, info: CheckpointInfo) -> Policy:
    """The policy of a verified checkpoint, for evaluation (on the CPU); one line when it cannot load."""
    verify_checkpoint(checkpoint, info)
    try:
        if info.framework == "sb3":
            from agents.sb3.ppo import SB3Policy

            return SB3Policy.load(checkpoint, info.agent)
        from agents.rllib.policy import RLlibPolicy

        return RLlibPolicy.load(checkpoint, info.agent)
    except ConfigError:
        raise
    except Exception as exc:  # torch, zipfile, pickle and RLlib raise many kinds for a bad file
        raise damaged(checkpoint, exc) from None


def check_files(checkpoint: Path, info: CheckpointInfo) -> None:
    """Refuse a checkpoint that lacks a file it was written with, or holds one of another size."""
    missing = [name for name in info.files if not (checkpoint / name).is_file()]
    if missing:
        more = f" and {len(missing) - 2} more" if len(missing) > 2 else ""
        raise damaged(checkpoint, FileNotFoundError(f"missing {', '.join(missing[:2])}{more}"))
    changed = [name for name, size in info.files.items() if (checkpoint / name).stat().st_size != size]
    if changed:
        raise damaged(checkpoint, ValueError(f"{changed[0]} is not the size it was written with"))


def damaged(checkpoint: Path, exc: BaseException) -> ConfigError:
    """The one-line error for a checkpoint whose files cannot be loaded."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    detail = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return ConfigError(f"checkpoint {checkpoint} is damaged or incomplete ({detail[:200]})")
