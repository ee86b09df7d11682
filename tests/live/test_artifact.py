"""The frozen-policy loader: a verified round trip; a tampered or mismatched artifact refused in one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from asterrl.errors import ArtifactError
from asterrl.features.config import NormalizationConfig, NormalizationMode
from asterrl.features.pipeline import FeaturePipeline, FeatureSpec
from asterrl.live.artifact import Expectation, load_artifact
from asterrl.live.features import builtin_columns
from asterrl.live.manifest import MANIFEST_FILE, NETWORK_FILE, canonical_digest, file_sha256, write_artifact
from asterrl.observation import ObservationLayout
from tests.live.artifacts import LEVELS, LinearPolicy, body, linear_artifact

REPO = Path(__file__).resolve().parents[2]


def _refused(path: Path, expect: Expectation | None = None) -> str:
    with pytest.raises(ArtifactError) as info:
        load_artifact(path, expect)
    text = str(info.value)
    assert "\n" not in text and str(path.name) in text
    return text


def _rewrite_manifest(path: Path, edit: dict[str, object], rehash_files: bool = True) -> None:
    """Edit manifest sections and re-sign it as a forger (or a bug) would: hashes made consistent again."""
    body = json.loads((path / MANIFEST_FILE).read_text())
    body.update(edit)
    if rehash_files:
        body["files"] = {rel: file_sha256(path / rel) for rel in body["files"]}
    body["manifest_sha256"] = canonical_digest(body)
    (path / MANIFEST_FILE).write_text(json.dumps(body))


@pytest.mark.parametrize("discrete", [True, False])
def test_actions_equal_the_network_computed_by_hand(tmp_path: Path, discrete: bool) -> None:
    art = load_artifact(linear_artifact(tmp_path / "a", discrete=discrete, seed=3))
    reference = LinearPolicy(art.manifest.layout.size, len(LEVELS), discrete, seed=3)
    weight = reference.layer.weight.detach().numpy().astype(np.float64)
    bias = reference.layer.bias.detach().numpy().astype(np.float64)
    obs = np.random.default_rng(0).normal(size=(2000, art.manifest.layout.size)).astype(np.float32)
    scores = obs.astype(np.float64) @ weight.T + bias
    got = art.act(obs)
    if discrete:
        assert got.dtype == np.int64 and got.shape == (2000,)
        np.testing.assert_array_equal(got, np.argmax(scores, axis=1))
        assert len(set(got.tolist())) > 1  # the draws reach several levels
    else:
        assert got.dtype == np.float32 and got.shape == (2000, 1)
        np.testing.assert_allclose(got, np.tanh(scores), atol=1e-5)
    assert art.act_one(obs[7]) == float(art.act(obs[7:8]).reshape(-1)[0])


def test_edited_weights_are_refused(tmp_path: Path) -> None:
    path = linear_artifact(tmp_path / "a")
    program = torch.export.load(str(path / NETWORK_FILE))
    with torch.no_grad():
        program.state_dict["layer.weight"][0, 0] += 0.5
    torch.export.save(program, str(path / NETWORK_FILE))
    assert "policy.pt2 was modified" in _refused(path)


def test_an_edited_manifest_is_refused(tmp_path: Path) -> None:
    path = linear_artifact(tmp_path / "a")
    text = (path / MANIFEST_FILE).read_text().replace('"BTCUSDT"', '"ETHUSDT"')
    (path / MANIFEST_FILE).write_text(text)
    assert "manifest.json was edited" in _refused(path)


def test_another_symbol_or_interval_is_refused(tmp_path: Path) -> None:
    path = linear_artifact(tmp_path / "a", symbol="ETHUSDT")
    assert "trained on ETHUSDT, not BTCUSDT" in _refused(path, Expectation(symbol="BTCUSDT"))
    assert "4h" in _refused(path, Expectation(interval="4h"))
    assert load_artifact(path, Expectation(symbol="ETHUSDT", interval="1h")).manifest.symbol == "ETHUSDT"


def test_another_feature_set_is_refused(tmp_path: Path) -> None:
    # the manifest's features build other columns than its observation layout (re-signed consistently)
    other = FeaturePipeline(
        [FeatureSpec.create("rsi", {"period": 14}), FeatureSpec.create("natr", {"period": 14})],
        NormalizationConfig(mode=NormalizationMode.NONE),
    )
    path = linear_artifact(tmp_path / "a")
    _rewrite_manifest(path, {"features": {"kind": "pipeline", "pipeline": other.to_dict()}})
    assert "another feature set" in _refused(path)
    # and a deployment pinned to one feature set refuses an artifact of another
    good = load_artifact(linear_artifact(tmp_path / "b"))
    assert "another feature set" in _refused(
        tmp_path / "b", Expectation(feature_fingerprint=canonical_digest({"features": "other"}))
    )
    assert load_artifact(tmp_path / "b", Expectation(feature_fingerprint=good.manifest.feature_fingerprint))


def test_a_network_of_another_input_size_or_action_kind_is_refused(tmp_path: Path) -> None:
    assert "does not take the manifest's observation" in _refused(
        linear_artifact(tmp_path / "a", size_offset=3)
    )
    # a continuous network behind a manifest promising discrete actions
    path = linear_artifact(tmp_path / "b", discrete=False)
    _rewrite_manifest(path, {"action": {**json.loads((path / MANIFEST_FILE).read_text())["action"],
                                        "action_type": "discrete"}})  # fmt: skip
    assert "not discrete actions" in _refused(path)


def test_missing_unlisted_and_corrupt_files_are_refused(tmp_path: Path) -> None:
    path = linear_artifact(tmp_path / "a")
    (path / "extra.bin").write_bytes(b"x")
    assert "unlisted file extra.bin" in _refused(path)
    (path / "extra.bin").unlink()
    (path / NETWORK_FILE).write_bytes(b"not a network")
    _rewrite_manifest(path, {})
    assert "not an exported torch network" in _refused(path)
    (path / NETWORK_FILE).unlink()
    assert "policy.pt2 is missing" in _refused(path)
    (path / MANIFEST_FILE).write_text("{")
    assert "unreadable" in _refused(path)
    assert "not a directory" in _refused(tmp_path / "nothing")


def test_export_never_overwrites_and_leaves_nothing_half_written(tmp_path: Path) -> None:
    path = linear_artifact(tmp_path / "a")
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(ArtifactError, match="exists and is not empty"):
        linear_artifact(path)
    bad = body(ObservationLayout(4, builtin_columns()))
    bad["market"]["interval"] = 60
    with pytest.raises(ArtifactError, match=r"market\.interval"):  # what the loader would refuse never lands
        write_artifact(tmp_path / "b", lambda p: p.write_bytes(b"net"), bad)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_the_trading_path_imports_no_ray_sb3_hydra_agents_or_envs(tmp_path: Path) -> None:
    path = linear_artifact(tmp_path / "a")
    script = f"""
import sys, numpy as np
import asterrl.live.artifact as a
art = a.load_artifact({str(path)!r})
art.act(np.zeros((1, art.manifest.layout.size), dtype=np.float32))
roots = ("ray", "stable_baselines3", "hydra", "agents", "envs")
bad = sorted(m for m in sys.modules if m.split(".")[0] in roots)
print(",".join(bad))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
