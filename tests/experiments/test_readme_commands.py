"""Every command the README shows parses and composes (``--cfg job``), and the cheap ones run for real."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
#: Commands that need a trained run or the network: only their options and overrides are checked.
NEEDS_A_RUN = ("evaluate",)


def readme_commands() -> list[str]:
    """Every line of the README's bash blocks."""
    text = (REPO_ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_the_readme_shows_the_main_commands() -> None:
    commands = readme_commands()
    fetch = "asterrl data fetch --symbols BTCUSDT,ETHUSDT --interval 1h --timerange 20240101-20240601"
    for wanted in ("make train", "asterrl train -m agent.lr=1e-4,3e-4 seed=0,1", "asterrl compare", fetch):
        assert any(line.startswith(wanted) for line in commands), wanted
    assert all(line.split()[0] in {"asterrl", "make", "source", "tensorboard"} for line in commands)


@pytest.mark.parametrize("line", [c for c in readme_commands() if c.startswith("asterrl ")])
def test_every_asterrl_command_of_the_readme_parses_and_composes(  # type: ignore[no-untyped-def]
    cli, line: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO_ROOT)  # ../shared/data and friends are relative to the checkout
    comment = line.split("#", 1)[1] if "#" in line else ""
    args = shlex.split(line, comments=True)[1:]
    if "->" in comment:  # the README shows the error this command gives
        result = cli(*args)
        expected = comment.split("->", 1)[1].strip().split("error: ", 1)[1]
        assert result.code == 2 and expected in result.err, result.err
        return
    if args[0] in NEEDS_A_RUN or "--help" in args:
        args = [a for a in args if "=" not in a or a.startswith("-")] + ["--help"]
    elif not any(a in args for a in ("--cfg", "--info")):
        args = [*args, "--cfg", "job"]
    result = cli(*args)
    assert result.code == 0, f"{line}: {result.err}"
    assert result.out.strip()


def test_cheap_readme_commands_run_for_real(cli, shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(REPO_ROOT)
    line = next(c for c in readme_commands() if c.startswith("asterrl data validate"))
    report = cli(*shlex.split(line, comments=True)[1:])
    assert report.code == 0, report.err
    gaps, missing = re.search(r"(\d+) gaps, (\d+) missing bars", line).groups()  # type: ignore[union-attr]
    assert re.search(rf"\b{gaps}\b", report.out) and re.search(rf"\b{missing}\b", report.out)
    listed = cli("features", "list")
    assert listed.code == 0 and len(listed.out.splitlines()) >= 55


def test_make_targets_and_tools_of_the_readme_exist() -> None:
    for line in readme_commands():
        if line.startswith("make "):
            target = line.split()[1]
            dry = subprocess.run(["make", "-n", target], cwd=REPO_ROOT, capture_output=True, text=True)
            assert dry.returncode == 0, dry.stderr
        if line.startswith("tensorboard "):
            assert (Path(sys.executable).parent / "tensorboard").exists()
    assert (REPO_ROOT / ".ci" / "run").read_text().strip().endswith("make test")
