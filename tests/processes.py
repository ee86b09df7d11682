"""Killing a real writer process mid-write, for the atomic-write tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def kill_when_started(child: str, marker: Path, timeout_s: float = 60.0) -> None:
    """Run the Python code ``child`` in a fresh interpreter from the repository root and SIGKILL it as soon
    as it creates the file ``marker`` (its sign that it is in the middle of writing)."""
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(child)], cwd=REPO)
    try:
        deadline = time.monotonic() + timeout_s
        while not marker.exists():
            assert proc.poll() is None, "writer exited before it started writing"
            assert time.monotonic() < deadline, "writer never started writing"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
