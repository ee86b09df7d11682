"""API keys: a 0600 key file or environment variables; anything else refused in one line; never shown."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from asterrl.errors import LiveError
from asterrl.live.keys import RedactValues, Secret, load_keys, read_key_file

USER = "0x63DD5aCC6b1aa0f563956C0e534DD30B6dcF7C4e"
SIGNER_KEY = "0x4fd0a42218f3eae43a6ce26d22544e986139a01e5b34a62db53757ffca81bae1"


def _key_file(tmp_path: Path, mode: int, payload: object | None = None) -> Path:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(payload if payload is not None else {"user": USER, "signer_key": SIGNER_KEY}))
    os.chmod(path, mode)
    return path


def test_a_0600_key_file_is_read_and_its_secret_never_shows(tmp_path: Path) -> None:
    keys = read_key_file(_key_file(tmp_path, 0o600))
    assert keys.version == "v3" and keys.user == USER and keys.secret.reveal() == SIGNER_KEY
    shown = f"{keys} {keys!r} {keys.secret} {keys.secret:>10}"
    assert SIGNER_KEY not in shown and SIGNER_KEY[2:] not in shown and "<redacted>" in shown
    assert read_key_file(_key_file(tmp_path, 0o400)).version == "v3"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o606])
def test_a_key_file_open_to_group_or_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = _key_file(tmp_path, mode)
    with pytest.raises(LiveError) as info:
        read_key_file(path)
    text = str(info.value)
    assert f"mode {mode:04o}" in text and "chmod 600" in text and "\n" not in text
    assert SIGNER_KEY[2:12] not in text


def test_missing_or_malformed_key_files_are_refused_without_the_values(tmp_path: Path) -> None:
    with pytest.raises(LiveError, match="does not exist"):
        read_key_file(tmp_path / "none.json")
    for payload, fragment in [
        ({"user": USER, "signer_key": "0x1234"}, "signer_key is not a 32-byte hex private key"),
        ({"user": "alice", "signer_key": SIGNER_KEY}, "user is not a 0x wallet address"),
        ({"token": "x"}, r"expected user \+ signer_key"),
    ]:
        with pytest.raises(LiveError, match=fragment) as info:
            read_key_file(_key_file(tmp_path, 0o600, payload))
        assert SIGNER_KEY[2:12] not in str(info.value)
    path = tmp_path / "keys.json"
    path.write_text("user=0x…")
    os.chmod(path, 0o600)
    with pytest.raises(LiveError, match="not a JSON object"):
        read_key_file(path)


def test_environment_variables_and_their_absence() -> None:
    keys = load_keys(None, {"ASTER_USER": USER, "ASTER_SIGNER_KEY": SIGNER_KEY})
    assert keys.version == "v3" and keys.source.startswith("environment")
    v1 = load_keys(None, {"ASTER_API_KEY": "k" * 64, "ASTER_API_SECRET": "s" * 64})
    assert v1.version == "v1" and v1.api_key is not None and v1.api_key.reveal() == "k" * 64
    with pytest.raises(LiveError, match="no API keys"):
        load_keys(None, {})


def test_log_records_carrying_a_secret_are_blanked(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("asterrl.live.test_keys")
    logger.addFilter(RedactValues([SIGNER_KEY, "short"]))
    with caplog.at_level(logging.INFO, logger="asterrl.live.test_keys"):
        logger.info("signing with %s for %s", SIGNER_KEY, USER)
    assert SIGNER_KEY not in caplog.text and "<redacted>" in caplog.text and USER in caplog.text
    assert str(Secret("abc")) == repr(Secret("abc")) == "<redacted>"
