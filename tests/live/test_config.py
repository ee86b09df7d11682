"""``DeployConfig`` from key=value and YAML: typed, validated, one line naming a bad key."""

from __future__ import annotations

from pathlib import Path

import pytest

from asterrl.errors import ConfigError
from asterrl.live.config import MAINNET_URL, TESTNET_URL, load_deploy_config


def test_overrides_reach_nested_sections_with_their_types(tmp_path: Path) -> None:
    cfg = load_deploy_config([
        "artifact=/tmp/art", "mode=live", "confirm_live=true", "execution.style=market",
        "execution.max_volume_share=.inf", "risk.max_leverage=2", "limits.breach.slippage=reducing",
        "limits.max_slippage_bps=30", "deploy.history_bars=500", f"state_dir={tmp_path}",
    ])  # fmt: skip
    assert cfg.mode == "live" and cfg.confirm_live is True and cfg.execution.style == "market"
    assert cfg.execution.max_volume_share == float("inf") and cfg.risk == {"max_leverage": 2.0}
    assert cfg.limits.breach["slippage"] == "reducing" and cfg.limits.breach["drawdown"] == "halted"
    assert (
        cfg.history_bars == 500 and cfg.rest_url == MAINNET_URL and cfg.stream_url.startswith("wss://fstream")
    )
    assert cfg.name() == "art-live" and cfg.state_path() == tmp_path / "art-live.sqlite"
    assert cfg.kill_path() == tmp_path / "art-live.kill"
    paper = load_deploy_config(["artifact=/tmp/art", "base_url=http://127.0.0.1:9000"])
    assert paper.mode == "paper" and paper.rest_url == "http://127.0.0.1:9000"
    assert paper.stream_url == "ws://127.0.0.1:9000"
    assert load_deploy_config(["artifact=x"]).rest_url == TESTNET_URL


def test_a_yaml_file_with_overrides_on_top(tmp_path: Path) -> None:
    file = tmp_path / "deploy.yaml"
    file.write_text(
        "deploy:\n  artifact: /a\n  execution:\n    style: market\n  reconcile:\n    position: halt\n"
    )
    cfg = load_deploy_config(["execution.style=limit"], str(file))
    assert cfg.artifact == "/a" and cfg.execution.style == "limit" and cfg.reconcile.position == "halt"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("nosuch=1", "config key 'deploy.nosuch' is not a field of DeployConfig"),
        ("execution.speed=1", "config key 'deploy.execution.speed' is not a field of ExecutionConfig"),
        ("history_bars=many", "config key 'deploy.history_bars': expected int, got 'many'"),
        ("confirm_live=perhaps", "config key 'deploy.confirm_live': expected bool"),
        ("mode=demo", "deploy.mode='demo'; expected one of paper, live"),
        ("execution.style=twap", "deploy.execution.style='twap'"),
        ("limits.breach.slippage=panic", "deploy.limits.breach.slippage='panic'"),
        ("reconcile.open_orders=ignore", "deploy.reconcile.open_orders='ignore'"),
        ("limits.stale_bar_s=-1", "deploy.limits.stale_bar_s=-1.0 must be a finite number > 0"),
        ("execution=1", "is a section"),
        ("base_url=ftp://x", "is not an http(s):// or ws(s):// URL"),
    ],
)
def test_bad_values_are_one_line_naming_the_key(override: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_deploy_config(["artifact=/a", override])
    assert message in str(info.value) and "\n" not in str(info.value)


def test_an_artifact_is_required() -> None:
    with pytest.raises(ConfigError, match="needs artifact=DIR"):
        load_deploy_config([])
