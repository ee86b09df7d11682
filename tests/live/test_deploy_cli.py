"""``asterrl deploy``: bad input refused with one line and a non-zero exit before anything is sent.

The refusals run against a local exchange that records every request it receives: an input that can be
checked without the exchange (the confirmation, the keys, the artifact) leaves it untouched; an unlisted
symbol is found by reading ``exchangeInfo`` (and the leverage brackets it loads with it), and nothing
that changes anything (an order, a leverage setting) follows.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from asterrl.live.manifest import MANIFEST_FILE, canonical_digest, file_sha256
from asterrl.live.store import StateStore
from tests.exchange.venue import SIGNER_KEY, USER, local_exchange
from tests.live.artifacts import linear_artifact

READS = {"/fapi/v3/time", "/fapi/v3/exchangeInfo", "/fapi/v3/leverageBracket"}


def _keys(tmp_path: Path, mode: int = 0o600) -> Path:
    path = tmp_path / f"keys-{mode:o}.json"
    path.write_text(json.dumps({"user": USER, "signer_key": SIGNER_KEY}))
    os.chmod(path, mode)
    return path


def _one_line_error(result, fragment: str) -> None:  # type: ignore[no-untyped-def]
    assert result.code == 2, (result.code, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("asterrl deploy: error: ") and fragment in lines[0], lines
    assert SIGNER_KEY[2:14] not in result.err + result.out


def _other_feature_set(target: Path) -> Path:
    """A valid artifact (every digest right) whose manifest names another feature set than the built-in."""
    art = linear_artifact(target)
    body = json.loads((art / MANIFEST_FILE).read_text())
    body["features"] = {"kind": "pipeline", "pipeline": {"format_version": 1, "set_name": "x", "features": [
        {"name": "rsi", "params": {"period": 14}}], "columns": ["rsi_14"],
        "normalization": {"mode": "none", "window": 500, "clip": 5.0, "stats": None}}}  # fmt: skip
    body["files"] = {rel: file_sha256(art / rel) for rel in body["files"]}
    body["manifest_sha256"] = canonical_digest(body)
    (art / MANIFEST_FILE).write_text(json.dumps(body))
    return art


@pytest.mark.slow
def test_bad_input_is_refused_in_one_line_before_anything_is_sent(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    art = linear_artifact(tmp_path / "art")
    keys = f"key_file={_keys(tmp_path)}"
    with local_exchange() as (server, _):
        common = [f"base_url={server.base_url}", f"state_dir={tmp_path}"]
        cases = [
            ((f"artifact={art}", "mode=live", keys), "confirm_live=true"),
            ((f"artifact={art}", f"key_file={tmp_path / 'none.json'}"), "does not exist"),
            ((f"artifact={art}", f"key_file={_keys(tmp_path, 0o644)}"), "mode 0644"),
            ((f"artifact={art}", f"key_file={_keys(tmp_path, 0o604)}"), "chmod 600"),
            ((f"artifact={art}", "symbol=ETHUSDT", keys), "trained on BTCUSDT, not ETHUSDT"),
            ((f"artifact={_other_feature_set(tmp_path / 'other')}", keys), "another feature set"),
            ((f"artifact={tmp_path / 'nothing'}", keys), "not a directory"),
        ]
        for settings, fragment in cases:
            _one_line_error(cli("deploy", *settings, *common), fragment)
        assert server.requests == []  # not one request reached the exchange
        assert not list(tmp_path.glob("*.sqlite"))  # nothing was started
        xrp = linear_artifact(tmp_path / "xrp", symbol="XRPUSDT")  # the exchange lists BTCUSDT only
        _one_line_error(cli("deploy", f"artifact={xrp}", keys, *common), "does not list XRPUSDT")
        seen = {(r.method, r.path) for r in server.requests}
        assert seen and all(method == "GET" and path in READS for method, path in seen), seen
        account = server.exchange.accounts[USER.lower()]
        assert not account.orders and not account.trades  # no order, no leverage change reached it


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
