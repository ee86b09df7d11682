"""Atomic writes: every file asterrl writes appears whole or not at all.

A writer fills a temporary file in the target's own folder, flushes it to disk (``fsync``) and renames it
over the target (``os.replace``, atomic on POSIX within one file system), then syncs the folder so the
rename itself survives a crash. A writer killed at any point leaves the previous file intact, plus at
worst a hidden temporary (``.NAME.tmp-…``) that ``remove_stale_temporaries`` clears.

Directories (forecast artifacts, checkpoints) are built in a hidden staging folder beside the target and
swapped in by renames: readers see the old directory or the new one, never a half-filled one.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: Marker in the name of every temporary made here (``.NAME.tmp-RANDOM[.suffix]``).
TEMPORARY_MARK = ".tmp-"


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target`` to write to; on success it replaces ``target``.

    The temporary keeps ``target``'s suffix, so libraries that pick a format from the extension
    (``savefig``, ``to_parquet``, ``torch.save``) write the right one. On an exception the temporary is
    deleted and ``target`` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = _fresh_name(target, target.suffix)
    # O_EXCL: never reuse another writer's temporary; mode 0o666 less the umask, as a plain open() gives.
    os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield temporary
        _fsync_file(temporary)
        os.replace(temporary, target)
        fsync_directory(target.parent)
    finally:
        temporary.unlink(missing_ok=True)


def atomic_write(target: str | Path, payload: str | bytes) -> Path:
    """Write ``payload`` (text as UTF-8, or bytes) to ``target`` atomically; return ``target``."""
    target = Path(target)
    data = payload.encode() if isinstance(payload, str) else payload
    with atomic_path(target) as temporary, temporary.open("wb") as handle:
        handle.write(data)
    return target


def atomic_write_json(target: str | Path, payload: Any, sort_keys: bool = False) -> Path:
    """Pretty JSON (indent 2, no NaN: a NaN in saved metadata is a bug) written atomically."""
    return atomic_write(target, json.dumps(payload, indent=2, allow_nan=False, sort_keys=sort_keys) + "\n")


@contextmanager
def atomic_directory(target: str | Path) -> Iterator[Path]:
    """Yield an empty staging folder beside ``target``; on success it takes ``target``'s place.

    An existing ``target`` is renamed aside, the staging folder renamed in, and the old one deleted. On an
    exception the staging folder is deleted and ``target`` is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = _fresh_name(target, "")
    staging.mkdir()
    try:
        yield staging
        replace_directory(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def replace_directory(staging: Path, target: Path) -> Path:
    """Move the finished folder ``staging`` to ``target`` (same parent), replacing what was there."""
    for path in staging.rglob("*"):
        if path.is_file():
            _fsync_file(path)
    if target.exists():
        aside = _fresh_name(target, ".old")
        target.rename(aside)
        staging.rename(target)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        staging.rename(target)
    fsync_directory(target.parent)
    return target


def remove_stale_temporaries(folder: str | Path) -> int:
    """Delete temporaries (files and staging folders) left in ``folder`` by writers that died.

    Call it only where no other writer can be working (the store holds its series lock). Returns how many
    entries were removed.
    """
    removed = 0
    for leftover in Path(folder).glob(f".*{TEMPORARY_MARK}*"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
        removed += 1
    return removed


def fsync_directory(folder: Path) -> None:
    """Flush a folder's entries (a rename into it) to disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fresh_name(target: Path, suffix: str) -> Path:
    """An unused hidden name beside ``target`` that ``remove_stale_temporaries`` recognises."""
    return target.with_name(f".{target.name}{TEMPORARY_MARK}{secrets.token_hex(6)}{suffix}")


def _fsync_file(path: Path) -> None:
    with path.open("rb+") as handle:
        os.fsync(handle.fileno())
