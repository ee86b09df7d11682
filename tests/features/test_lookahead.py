"""``asterrl features check-lookahead``: a clean set passes, leaky user features are caught and named, rule
agent configs are checked too, and the check itself finds a leaky agent."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agents.policy import ActionMapping, FloatArray
from agents.rules import PriceSeries, RuleAgent
from asterrl.features import FeaturePipeline, registry
from asterrl.features.lookahead import PERTURBED, REMOVED, MarketFrames, check_lookahead
from tests.features.conftest import synthetic_bars, synthetic_inputs

#: A user's module: one honest feature and two that peek (a centred mean, a return shifted by -1).
USER_FEATURES = """
import numpy as np
from asterrl.features.registry import FeatureDef, register

def trailing_return(d, p):
    out = np.full(d.n_bars, np.nan)
    out[1:] = np.diff(np.log(d.close))
    return (out,)

def centred_mean(d, p):
    half = int(p["window"]) // 2
    out = np.full(d.n_bars, np.nan)
    for t in range(half, d.n_bars - half):
        out[t] = d.close[t - half : t + half + 1].mean() / d.close[t] - 1.0
    return (out,)

def next_return(d, p):
    return (np.append(np.diff(np.log(d.close)), np.nan),)

register(FeatureDef("my_return", "momentum", "log return, %", {}, ("value",), trailing_return, lambda p: 1))
register(FeatureDef("centred_mean", "trend", "centred mean / close - 1", {"window": 5}, ("value",),
                    centred_mean, lambda p: int(p["window"]) // 2))
register(FeatureDef("next_return", "momentum", "next bar's log return", {}, ("value",), next_return,
                    lambda p: 0))
"""


@pytest.fixture
def user_registry() -> Iterator[None]:
    """Leave the registry as the catalog filled it, whatever user modules a test imports."""
    features = dict(registry._REGISTRY)
    modules = dict(registry._LOADED_MODULES)
    yield
    registry._REGISTRY.clear()
    registry._REGISTRY.update(features)
    registry._LOADED_MODULES.clear()
    registry._LOADED_MODULES.update(modules)


def _files(tmp_path: Path, features: list[str]) -> tuple[Path, Path]:
    (tmp_path / "my_features.py").write_text(USER_FEATURES)
    listed = "\n".join(f"  - {{name: {name}}}" for name in features)
    feature_set = tmp_path / "mine.yaml"
    feature_set.write_text(
        textwrap.dedent(
            """\
            set_name: mine
            modules: [my_features.py]
            normalization: {mode: fitted, window: 50, clip: 5.0}
            features:
            """
        )
        + listed
        + "\n"
    )
    bars = tmp_path / "bars.csv"
    pd.DataFrame(synthetic_bars(600, 4)).to_csv(bars, index=False)
    return feature_set, bars


def test_a_clean_user_set_passes(cli, tmp_path: Path, user_registry: None) -> None:  # type: ignore[no-untyped-def]
    feature_set, bars = _files(tmp_path, ["rsi", "my_return", "bbands"])
    result = cli("features", "check-lookahead", bars, "--set", feature_set, "--cuts", "6")
    assert result.code == 0, result.err
    assert "no look-ahead" in result.out and "7 columns" in result.out and "rolling z-score" in result.out
    # Statistics fitted on a named span: cuts fall from its last bar on, where nothing may change.
    stamps = pd.read_csv(bars)["timestamp"]
    fit_end = str(int(stamps.iloc[300]) + 3_600_000)
    fitted = cli("features", "check-lookahead", bars, "--set", feature_set, "--fit-end", fit_end, "--cuts=4")
    assert fitted.code == 0 and "fitted on the bars closed by" in fitted.out
    cuts = fitted.out.split("cut bars ")[1].split(", future")[0].split(", ")
    assert min(int(c) for c in cuts) >= 300


def test_leaky_user_features_are_caught_and_named(cli, tmp_path: Path, user_registry: None) -> None:  # type: ignore[no-untyped-def]
    feature_set, bars = _files(tmp_path, ["rsi", "centred_mean", "my_return", "next_return"])
    result = cli("features", "check-lookahead", bars, "--set", feature_set, "--cuts", "4", "--seed", "3")
    assert result.code == 1
    assert result.out.strip().splitlines()[-1] == "2 of 4 columns look ahead: centred_mean_5, next_return"
    flagged = [line for line in result.out.splitlines() if line.startswith("LOOKS AHEAD")]
    assert [line.split()[2] for line in flagged] == ["centred_mean_5:", "next_return:"]
    # compute writes them all the same (the check is what names them), and the saved pipeline records the
    # module, so a fresh process rebuilds the same columns
    out = tmp_path / "mine.parquet"
    assert cli("features", "compute", bars, "-o", out, "--set", feature_set).code == 0
    for name in ("my_return", "centred_mean", "next_return"):
        del registry._REGISTRY[name]
    registry._LOADED_MODULES.clear()
    reloaded = FeaturePipeline.load(tmp_path / "mine.features.json")
    assert reloaded.columns == ("rsi_14", "centred_mean_5", "my_return", "next_return")
    assert reloaded.modules == (str(tmp_path / "my_features.py"),)
    # fitting on every row looks ahead in every column, and the check says so
    ahead = cli("features", "check-lookahead", bars, "--set", feature_set, "--fit-all-rows-lookahead")
    assert ahead.code == 1 and ahead.out.strip().splitlines()[-1].startswith("4 of 4 columns look ahead")


def test_a_broken_user_module_is_one_line(cli, tmp_path: Path, user_registry: None) -> None:  # type: ignore[no-untyped-def]
    feature_set, bars = _files(tmp_path, ["rsi"])
    (tmp_path / "my_features.py").write_text("raise RuntimeError('typo in my module')\n")
    result = cli("features", "check-lookahead", bars, "--set", feature_set)
    assert result.code != 0 and "typo in my module" in result.err
    assert len(result.err.strip().splitlines()) == 1 and "Traceback" not in result.err


@pytest.mark.parametrize("agent", ["hybrid", "demark", "grid", "vol_trend", "buy_and_hold"])
def test_rule_agent_configs_are_checked(cli, tmp_path: Path, agent: str) -> None:  # type: ignore[no-untyped-def]
    bars = tmp_path / "bars.csv"
    pd.DataFrame(synthetic_bars(1500, 8)).to_csv(bars, index=False)
    result = cli("features", "check-lookahead", bars, "--agent", agent, "--cuts", "5")
    assert result.code == 0, result.out + result.err
    assert f"rule agent {agent}" in result.out and "no look-ahead" in result.out
    if agent == "hybrid":
        assert "4 signals" in result.out  # target, regime and both legs
    if agent == "demark":
        assert "3 signals" in result.out  # target, buy and sell signals


def test_check_lookahead_needs_a_rule_agent(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bars = tmp_path / "bars.csv"
    pd.DataFrame(synthetic_bars(300, 8)).to_csv(bars, index=False)
    result = cli("features", "check-lookahead", bars, "--agent", "ppo")
    assert result.code != 0 and "not a rule agent" in result.err


class PeekingAgent(RuleAgent):
    """Long when the next close is higher: a rule that reads the future through ``shift(-1)``."""

    name = "peeking"

    def compute_targets(self, series: PriceSeries) -> FloatArray:
        ahead = np.append(series.close[1:], np.nan)
        return np.where(ahead > series.close, 1.0, 0.0)


def test_the_check_finds_a_leaky_rule_agent() -> None:
    market = MarketFrames(pd.DataFrame(synthetic_bars(400, 2)))
    agent = PeekingAgent(ActionMapping("continuous"))
    report = check_lookahead(lambda m: agent.decision_series(PriceSeries.from_bars(m.bars)), market, cuts=5)
    assert report.leaking == ("target",) and not report.clean
    leak = report.leaks[0]
    # The first cut's last bar changes: with the future removed there is no next close (0 instead of 0/1),
    # or perturbed, the next close moves.
    assert leak.cut == report.cuts[0] and leak.bar == leak.cut and leak.how in (REMOVED, PERTURBED)


def test_market_frames_remove_and_perturb_only_the_future() -> None:
    inputs = synthetic_inputs(300, seed=9)
    bars = pd.DataFrame(synthetic_bars(300, 9))
    funding = pd.DataFrame({"timestamp": inputs.funding_timestamp, "funding_rate": inputs.funding_rate})
    reference = pd.DataFrame(synthetic_bars(300, 10))
    market = MarketFrames(bars, funding, reference)
    cut = 150
    head = market.head(cut)
    close_time = int(bars["timestamp"].iloc[cut]) + 3_600_000
    assert head.n_bars == cut + 1 and head.funding is not None and head.reference is not None
    assert head.funding["timestamp"].max() <= close_time < funding["timestamp"].max()
    assert len(head.reference) == cut + 1
    moved = market.perturbed_after(cut, np.random.default_rng(0))
    pd.testing.assert_frame_equal(moved.bars.iloc[: cut + 1], bars.iloc[: cut + 1])
    later = moved.bars.iloc[cut + 1 :]
    assert (later["close"].to_numpy() != bars["close"].iloc[cut + 1 :].to_numpy()).all()
    assert (later["high"] >= later[["open", "close"]].max(axis=1)).all()
    assert (later["low"] <= later[["open", "close"]].min(axis=1)).all()
    assert moved.funding is not None and moved.reference is not None
    settled = funding["timestamp"] <= close_time
    pd.testing.assert_frame_equal(moved.funding[settled], funding[settled])
    assert (moved.funding.loc[~settled, "funding_rate"] != funding.loc[~settled, "funding_rate"]).all()
    assert (moved.reference["close"].iloc[cut + 1 :] != reference["close"].iloc[cut + 1 :]).all()
    # Another draw moves the future differently.
    again = market.perturbed_after(cut, np.random.default_rng(1))
    assert not np.allclose(again.bars["close"].iloc[cut + 1 :], later["close"])
