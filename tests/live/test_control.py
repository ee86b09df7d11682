"""The kill switch from every side: the kill file, commands from another process, and real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from asterrl.errors import LiveError
from asterrl.live.control import KillSwitch, send_command
from asterrl.live.store import StateStore

REPO = Path(__file__).resolve().parents[2]


def test_commands_from_the_cli_http_and_the_kill_file_reach_the_bridge(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "r.sqlite", "r")
    switch = KillSwitch(store, tmp_path / "r.kill")
    assert switch.poll() == []
    send_command(tmp_path / "r.sqlite", "stop", "cli")
    switch.push("resume", "http")
    assert switch.poll() == [("resume", "http"), ("stop", "cli")]
    (tmp_path / "r.kill").write_text("please FLATTEN now")
    assert switch.poll() == [("flatten", f"kill file {tmp_path / 'r.kill'}")]
    assert switch.poll() == []  # the file is acted on once
    other = KillSwitch(store, tmp_path / "other.kill")
    (tmp_path / "other.kill").touch()
    assert other.poll()[0][0] == "halt"
    with pytest.raises(LiveError, match="unknown deploy command 'explode'"):
        send_command(tmp_path / "r.sqlite", "explode")
    with pytest.raises(LiveError, match="no deployment state"):
        send_command(tmp_path / "none.sqlite", "stop")


def test_sigterm_asks_for_a_graceful_stop_and_a_second_signal_exits_at_once(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    child = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from asterrl.live.control import KillSwitch
        from asterrl.live.store import StateStore
        store = StateStore({str(tmp_path / "r.sqlite")!r}, "r")
        switch = KillSwitch(store, Path({str(tmp_path / "r.kill")!r}))
        switch.install_signal_handlers()
        Path({str(ready)!r}).write_text("1")
        while True:
            for command, source in switch.poll():
                print(command, source, flush=True)
                if "--twice" not in sys.argv:
                    sys.exit(0)
            time.sleep(0.02)
    """)
    for twice in (False, True):
        ready.unlink(missing_ok=True)
        proc = subprocess.Popen([sys.executable, "-c", child, *(["--twice"] if twice else [])], cwd=REPO,
                                stdout=subprocess.PIPE, text=True)  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while not ready.exists():
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.02)
            os.kill(proc.pid, signal.SIGTERM)
            if twice:
                assert proc.stdout is not None and proc.stdout.readline().strip() == "stop SIGTERM"
                os.kill(proc.pid, signal.SIGINT)
                assert proc.wait(timeout=60) == 128 + signal.SIGINT
            else:
                out, _ = proc.communicate(timeout=60)
                assert proc.returncode == 0 and out.strip() == "stop SIGTERM"
        finally:
            if proc.poll() is None:
                proc.kill()
