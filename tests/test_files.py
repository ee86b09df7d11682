"""``asterrl.files``: a writer SIGKILLed mid-write leaves the previous file (or directory) intact, and every
file the project writes goes through it."""

from __future__ import annotations

import ast
import os
import textwrap
from pathlib import Path

import pytest

from asterrl.files import (
    atomic_directory,
    atomic_path,
    atomic_write,
    atomic_write_json,
    remove_stale_temporaries,
)
from tests.processes import REPO, kill_when_started


def test_writer_killed_mid_write_leaves_the_old_file_intact(tmp_path: Path) -> None:
    target = tmp_path / "report.md"
    atomic_write(target, "old version\n")
    marker = tmp_path / "started"
    kill_when_started(
        f"""
        import time
        from pathlib import Path
        from asterrl.files import atomic_path
        with atomic_path({str(target)!r}) as temporary, temporary.open("wb") as handle:
            handle.write(b"new version, first half " * 10_000)
            handle.flush()
            Path({str(marker)!r}).touch()
            time.sleep(120)
            handle.write(b"second half")
        """,
        marker,
    )
    assert target.read_text() == "old version\n"
    leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".report.md.tmp-")]
    assert len(leftovers) == 1 and leftovers[0].stat().st_size >= 240_000  # the half-written temporary
    assert remove_stale_temporaries(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md", "started"]


def test_directory_writer_killed_mid_write_leaves_the_old_directory_intact(tmp_path: Path) -> None:
    target = tmp_path / "checkpoint"
    with atomic_directory(target) as staging:
        atomic_write(staging / "weights.bin", b"v1")
        atomic_write_json(staging / "info.json", {"iteration": 1})
    marker = tmp_path / "started"
    kill_when_started(
        f"""
        import time
        from pathlib import Path
        from asterrl.files import atomic_directory, atomic_write
        with atomic_directory(Path({str(target)!r})) as staging:
            atomic_write(staging / "weights.bin", b"v2" * 1000)
            Path({str(marker)!r}).touch()
            time.sleep(120)
        """,
        marker,
    )
    assert sorted(p.name for p in target.iterdir()) == ["info.json", "weights.bin"]
    assert (target / "weights.bin").read_bytes() == b"v1"
    assert remove_stale_temporaries(tmp_path) == 1  # the killed writer's staging folder
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_failed_writer_leaves_nothing_behind_and_a_finished_one_replaces(tmp_path: Path) -> None:
    target = tmp_path / "data.csv"
    atomic_write(target, "a,b\n")
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_text("half")
        raise RuntimeError("writer failed")
    assert target.read_text() == "a,b\n" and sorted(tmp_path.iterdir()) == [target]
    with atomic_path(target) as temporary:
        assert temporary.suffix == ".csv" and temporary.parent == tmp_path
        temporary.write_text("c,d\n")
    assert target.read_text() == "c,d\n" and sorted(tmp_path.iterdir()) == [target]
    # permissions are those of a plain open(): 0o666 less the umask
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    folder = tmp_path / "run"
    with pytest.raises(RuntimeError), atomic_directory(folder) as staging:
        atomic_write(staging / "x", "1")
        raise RuntimeError("writer failed")
    assert not folder.exists() and sorted(tmp_path.iterdir()) == [target]
    with pytest.raises(ValueError):
        atomic_write_json(tmp_path / "nan.json", {"x": float("nan")})
    assert not (tmp_path / "nan.json").exists()


#: Calls that write a file by themselves (never allowed outside ``asterrl.files``).
DIRECT_WRITES = {"write_text", "write_bytes", "dump", "to_csv", "to_json"}
#: Calls that write to the path they are given: allowed only inside ``with atomic_path(...)``.
PATH_WRITERS = {"to_parquet", "savefig", "save_model", "write_table"}
LIBRARY_SAVES = {("torch", "save"), ("OmegaConf", "save")}


def _opens_for_writing(call: ast.Call) -> bool:
    modes = [*call.args, *(k.value for k in call.keywords if k.arg == "mode")]
    return any(
        isinstance(m, ast.Constant) and isinstance(m.value, str) and set(m.value) & set("wax") for m in modes
    )


def _is_write(call: ast.Call, guarded: bool, in_memory: frozenset[str] | set[str] = frozenset()) -> bool:
    """Whether ``call`` writes a file other than through ``asterrl.files`` (``guarded``: inside
    ``with atomic_path``; ``in_memory``: names bound to ``io.BytesIO()``/``io.StringIO()``, which are no
    files)."""
    if not isinstance(call.func, ast.Attribute):
        return False
    if call.args and isinstance(call.args[0], ast.Name) and call.args[0].id in in_memory:
        return False
    name, owner = call.func.attr, getattr(call.func.value, "id", "")
    if name in DIRECT_WRITES:
        # to_csv()/to_json() without a path return the text (pandas, and our records' to_json)
        to_text = not call.args and not any(k.arg == "path_or_buf" for k in call.keywords)
        return not (name in ("to_csv", "to_json") and to_text)
    if guarded:
        return False
    if name == "open":
        return owner != "lock_path" and _opens_for_writing(call)
    return name in PATH_WRITERS or (owner, name) in LIBRARY_SAVES


def _writes_outside_atomic(source: str, label: str) -> list[str]:
    tree = ast.parse(source)
    guarded: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.With) and any(
            isinstance(item.context_expr, ast.Call)
            and getattr(item.context_expr.func, "id", getattr(item.context_expr.func, "attr", ""))
            == "atomic_path"
            for item in node.items
        ):
            guarded.update(id(inner) for inner in ast.walk(node))
    in_memory = {
        target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Call)
        and getattr(node.value.func, "attr", getattr(node.value.func, "id", "")) in ("BytesIO", "StringIO")
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    lines = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and _is_write(node, id(node) in guarded, in_memory)
    ]
    return [f"{label}:{line}" for line in sorted(lines)]


def test_the_write_check_sees_direct_writes() -> None:
    source = textwrap.dedent(
        """
        path.write_text("x")
        with path.open("w") as handle: pass
        frame.to_parquet(path)
        torch.save(state, path)
        with atomic_path(path) as temporary:
            frame.to_parquet(temporary)
        text = frame.to_csv()
        record = info.to_json()
        frame.to_json(path_or_buf=path)
        with lock_path.open("a") as handle: pass
        with path.open("rb") as handle: pass
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        fig.savefig(path)
        """
    )
    assert _writes_outside_atomic(source, "x") == ["x:2", "x:3", "x:4", "x:5", "x:10", "x:15"]


def test_every_file_the_project_writes_goes_through_asterrl_files() -> None:
    """A static check: no module writes a file except through ``atomic_write``/``atomic_path``.

    The store's lock file (``lock_path``, opened for append, never holding data) is the one exception;
    TensorBoard's event files are append-only logs written by TensorBoard's own writer.
    """
    offenders = []
    for package in ("asterrl", "agents", "envs", "experiments", "hydra_plugins"):
        for path in sorted((REPO / package).rglob("*.py")):
            if path.name != "files.py":
                offenders += _writes_outside_atomic(path.read_text(), str(path.relative_to(REPO)))
    assert offenders == []
