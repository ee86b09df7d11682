"""``asterrl deploy``: bad input refused with one line and a non-zero exit before any request is made."""

from __future__ import annotations

import json
import os
from pathlib import Path

from asterrl.live.manifest import MANIFEST_FILE, canonical_digest, file_sha256
from asterrl.live.store import StateStore
from tests.live.artifacts import linear_artifact

USER = "0x63DD5aCC6b1aa0f563956C0e534DD30B6dcF7C4e"
SIGNER_KEY = "0x4fd0a42218f3eae43a6ce26d22544e986139a01e5b34a62db53757ffca81bae1"
UNREACHABLE = "base_url=http://127.0.0.1:9"  # nothing listens there: a request would fail, not succeed


def _keys(tmp_path: Path, mode: int = 0o600) -> Path:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"user": USER, "signer_key": SIGNER_KEY}))
    os.chmod(path, mode)
    return path


def _one_line_error(result, fragment: str) -> None:  # type: ignore[no-untyped-def]
    assert result.code == 2, (result.code, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("asterrl deploy: error: ") and fragment in lines[0], lines
    assert SIGNER_KEY[2:14] not in result.err + result.out


def test_live_mode_without_confirmation_is_refused(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    art = linear_artifact(tmp_path / "art")
    result = cli(
        "deploy", f"artifact={art}", "mode=live", f"key_file={_keys(tmp_path)}", f"state_dir={tmp_path}"
    )
    _one_line_error(result, "confirm_live=true")
    assert not list(tmp_path.glob("*.sqlite"))  # nothing was started


def test_missing_or_world_readable_key_files_are_refused(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    art = linear_artifact(tmp_path / "art")
    common = [f"artifact={art}", UNREACHABLE, f"state_dir={tmp_path}"]
    _one_line_error(cli("deploy", *common, f"key_file={tmp_path / 'none.json'}"), "does not exist")
    _one_line_error(cli("deploy", *common, f"key_file={_keys(tmp_path, 0o644)}"), "mode 0644")
    _one_line_error(cli("deploy", *common, f"key_file={_keys(tmp_path, 0o604)}"), "chmod 600")
    assert not list(tmp_path.glob("*.sqlite"))


def test_an_artifact_for_another_symbol_or_feature_set_is_refused(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    keys = f"key_file={_keys(tmp_path)}"
    art = linear_artifact(tmp_path / "art")
    result = cli("deploy", f"artifact={art}", "symbol=ETHUSDT", keys, UNREACHABLE, f"state_dir={tmp_path}")
    _one_line_error(result, "trained on BTCUSDT, not ETHUSDT")
    other = linear_artifact(tmp_path / "other")
    body = json.loads((other / MANIFEST_FILE).read_text())
    body["features"] = {"kind": "pipeline", "pipeline": {"format_version": 1, "set_name": "x", "features": [
        {"name": "rsi", "params": {"period": 14}}], "columns": ["rsi_14"],
        "normalization": {"mode": "none", "window": 500, "clip": 5.0, "stats": None}}}  # fmt: skip
    body["files"] = {rel: file_sha256(other / rel) for rel in body["files"]}
    body["manifest_sha256"] = canonical_digest(body)
    (other / MANIFEST_FILE).write_text(json.dumps(body))
    result = cli("deploy", f"artifact={other}", keys, UNREACHABLE, f"state_dir={tmp_path}")
    _one_line_error(result, "another feature set")
    _one_line_error(cli("deploy", f"artifact={tmp_path / 'nothing'}", keys, UNREACHABLE), "not a directory")
    assert not list(tmp_path.glob("*.sqlite"))


def test_bad_settings_and_control_of_a_deployment(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    _one_line_error(cli("deploy", "artifact=x", "execution.style=twap"), "deploy.execution.style='twap'")
    _one_line_error(cli("deploy", "status", "run_id=nobody", f"state_dir={tmp_path}"), "no deployment state")
    _one_line_error(cli("deploy", "stop", f"state_dir={tmp_path}"), "needs run_id=NAME")
    store = StateStore(tmp_path / "btc.sqlite", "btc")
    done = cli("deploy", "flatten", "run_id=btc", f"state_dir={tmp_path}")
    assert done.code == 0 and "flatten sent to btc" in done.out
    assert [c[1:] for c in store.take_commands()] == [("flatten", "cli")]
    status = cli("deploy", "status", "run_id=btc", f"state_dir={tmp_path}")
    assert status.code == 0 and "no status yet" in status.out
