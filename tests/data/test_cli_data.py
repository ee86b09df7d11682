"""`asterrl data ...` end to end: corrupt inputs give one line and a non-zero exit, the store unchanged."""

from __future__ import annotations

import gzip
import hashlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from tests.data.frames import bars

REPO = Path(__file__).resolve().parents[2]


def store_digest(home: Path) -> str:
    """Hash of every file under the store (names and bytes)."""
    digest = hashlib.sha256()
    for path in sorted((home / "store").rglob("*")):
        if path.is_file() and path.name != ".lock":
            digest.update(str(path.relative_to(home)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False, compression="gzip" if path.suffix == ".gz" else None)
    return path


def truncated_gzip(d: Path) -> Path:
    path = write_csv(bars(3000), d / "BTCUSDT_1h.csv.gz")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def missing_column(d: Path) -> Path:
    return write_csv(bars(50).drop(columns=["low"]), d / "BTCUSDT_1h.csv")


def text_in_price(d: Path) -> Path:
    frame = bars(50).astype({"close": object})
    frame.loc[17, "close"] = "n/a"
    return write_csv(frame, d / "BTCUSDT_1h.csv")


def shuffled_rows(d: Path) -> Path:
    return write_csv(bars(50).sample(frac=1.0, random_state=3), d / "BTCUSDT_1h.csv")


def duplicated_rows(d: Path) -> Path:
    frame = bars(50)
    return write_csv(pd.concat([frame, frame.iloc[10:12]]).sort_values("timestamp"), d / "BTCUSDT_1h.csv")


def empty_file(d: Path) -> Path:
    path = d / "BTCUSDT_1h.csv.gz"
    path.write_bytes(gzip.compress(b""))
    return path


def wrong_kind(d: Path) -> Path:
    frame = pd.DataFrame({"timestamp": bars(5)["timestamp"], "funding_rate": 1e-4})
    return write_csv(frame, d / "BTCUSDT_1h.csv")


CORRUPT: dict[str, tuple[Callable[[Path], Path], str]] = {
    "truncated gzip": (truncated_gzip, "truncated or corrupt gzip"),
    "missing column": (missing_column, "missing column low"),
    "text in a price column": (text_in_price, "column 'close' has a non-numeric value 'n/a' at data row 18"),
    "shuffled rows": (shuffled_rows, "non monotonic"),
    "duplicated rows": (duplicated_rows, "2 duplicate timestamps"),
    "empty file": (empty_file, "file is empty"),
    "wrong kind": (wrong_kind, "holds funding data, not ohlcv"),
}


@pytest.mark.parametrize("case", list(CORRUPT))
def test_corrupt_input_is_one_line_and_leaves_the_store_unchanged(cli, tmp_path: Path, case: str) -> None:  # type: ignore[no-untyped-def]
    import os

    home = Path(os.environ["ASTERRL_HOME"])
    good = write_csv(bars(40), tmp_path / "BTCUSDT_1h.csv")
    assert cli("data", "import", good, "--kind", "ohlcv").code == 0
    before = store_digest(home)
    make, message = CORRUPT[case]
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    result = cli("data", "import", make(bad_dir), "--kind", "ohlcv", "--symbol", "BTCUSDT")
    assert result.code != 0
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, result.err
    assert message in lines[0]
    assert "Traceback" not in result.err + result.out
    assert store_digest(home) == before


def test_validate_exit_codes(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    good = write_csv(bars(30), tmp_path / "BTCUSDT_1h.csv")
    ok = cli("data", "validate", good)
    assert ok.code == 0 and "verdict: usable" in ok.out
    bad = cli("data", "validate", duplicated_rows(tmp_path))
    assert bad.code == 1
    assert bad.err.strip().endswith("2 duplicate timestamps (first at data row 12): repeated timestamps")


def test_list_shows_imported_series(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert "is empty" in cli("data", "list").out
    cli("data", "import", write_csv(bars(30), tmp_path / "ETHUSDT_1h.csv"))
    out = cli("data", "list").out.splitlines()
    assert out[1].split()[:5] == ["perp", "ETHUSDT", "1h", "ohlcv", "30"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("data.nosuchkey=1", "config key 'data.nosuchkey' is not a field of DataConfig"),
        ("seed=abc", "config key 'seed': expected integer, got 'abc'"),
        ("data.market=moon", "config key 'data.market': invalid value 'moon' (expected one of perp, spot)"),
        (
            "data=nosuchset",
            "config group 'data' has no option 'nosuchset' "
            "(options: aster_btcusdt_1h, shared, shared_btcusdt_1h, synthetic)",
        ),
    ],
)
def test_bad_config_is_one_line(cli, override: str, message: str) -> None:  # type: ignore[no-untyped-def]
    result = cli("data", "list", override)
    assert result.code == 2
    assert result.err.strip() == f"asterrl data: error: {message}"


def test_console_script_prints_no_traceback(tmp_path: Path) -> None:
    """The real entry point in a fresh interpreter: usage error and data error are one line each."""
    for args, needle in ((["data", "import", str(tmp_path / "nope.csv")], "no such file"),
                         (["nosuchcommand"], "unknown command"),
                         (["data", "import"], "the following arguments are required: path")):  # fmt: skip
        proc = subprocess.run([sys.executable, "-m", "experiments.cli", *args], cwd=REPO, capture_output=True,
                              text=True, timeout=120)  # fmt: skip
        assert proc.returncode == 2
        assert len(proc.stderr.strip().splitlines()) == 1 and needle in proc.stderr, proc.stderr
