"""Shared fixtures: an isolated ASTERRL_HOME per test, the shared dataset's location, the CLI runner."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO_ROOT / ".." / "shared" / "data").resolve()


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Every test gets its own empty store, so nothing leaks between tests or into the user's home."""
    home = tmp_path_factory.mktemp("asterrl_home")
    monkeypatch.setenv("ASTERRL_HOME", str(home))
    monkeypatch.setenv("ASTERRL_SHARED_DATA", str(SHARED_DATA))
    yield home


@pytest.fixture(autouse=True)
def _asterrl_logging_restored() -> Iterator[None]:
    """The ``asterrl`` logger as it was before each test: a test (or an in-process ``asterrl deploy``) that
    configures the live bridge's JSON logging (``propagate = False``, its own handlers) would otherwise hide
    every later test's ``asterrl.*`` records from pytest's log capture."""
    logger = logging.getLogger("asterrl")
    saved = (logger.level, list(logger.handlers), logger.propagate, logger.disabled)
    yield
    for handler in list(logger.handlers):
        if handler not in saved[1]:
            logger.removeHandler(handler)
            handler.close()
    logger.level, logger.propagate, logger.disabled = saved[0], saved[2], saved[3]
    logger.handlers[:] = saved[1]


@pytest.fixture
def shared_data() -> Path:
    """The shared real-market dataset (skips the test when it is not beside the repository)."""
    if not (SHARED_DATA / "manifest.csv").exists():
        pytest.skip(f"shared dataset not found at {SHARED_DATA}")
    return SHARED_DATA


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run ``asterrl`` in-process: ``cli("data", "list")`` -> CliResult(code, stdout, stderr)."""
    from experiments.cli import main

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
