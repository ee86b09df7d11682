"""``asterrl export``: tiny RLlib and SB3 agents trained on synthetic data, exported, and the artifact's
deterministic actions compared with the original policy's on 10,000 recorded observations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from asterrl.errors import ArtifactError
from experiments.config import load_config

TINY = ["data=synthetic", "experiment=smoke", "train.progress=false", "env.episode_length=64"]
OBSERVATIONS = 10_000


@pytest.mark.slow
@pytest.mark.parametrize("agent", ["sb3_ppo_tiny", "ppo_tiny"])
def test_artifact_acts_like_the_trained_policy_on_10000_observations(
    agent: str,
    tmp_path: Path,
    cli,  # type: ignore[no-untyped-def]
) -> None:
    import ray

    from asterrl.live.artifact import Expectation, load_artifact
    from experiments.commands.export import recorded_observations
    from experiments.training.environment import build_env_core, prepare_market
    from experiments.training.run import train

    overrides = [*TINY, f"agent={agent}", "agent.num_env_runners=0", "ray.num_cpus=1",
                 f"experiment.root={tmp_path / 'runs'}"]  # fmt: skip
    cfg = load_config(overrides)
    try:
        result = train(cfg, show_progress=False)
    finally:
        ray.shutdown()
    out = tmp_path / "artifact"
    done = cli("export", f"checkpoint={result.checkpoint}", f"out={out}")
    assert done.code == 0, done.err
    assert done.out.strip() == f"exported: {out.resolve()}"

    frozen = load_artifact(out, Expectation(symbol=cfg.data.symbol, interval=cfg.data.interval))
    manifest = frozen.manifest
    assert manifest.source == ("sb3" if agent.startswith("sb3") else "rllib")
    assert manifest.data_hash == prepare_market(cfg, show_progress=False).data_hash
    assert manifest.run_id == result.paths.run_name
    assert manifest.body["features"]["pipeline"]["normalization"]["stats"] is not None  # fitted statistics

    market = prepare_market(cfg, show_progress=False)
    obs = recorded_observations(build_env_core(cfg, market, "test"), OBSERVATIONS, seed=1)
    assert obs.shape == (OBSERVATIONS, manifest.layout.size)
    assert np.unique(obs[:, -7]).size > 100  # account state varies (position leverage), not only the market
    if agent.startswith("sb3"):
        from agents.sb3.ppo import SB3Policy

        original = SB3Policy.load(result.checkpoint)
    else:
        from agents.rllib.policy import RLlibPolicy

        original = RLlibPolicy.load(result.checkpoint)  # type: ignore[assignment]
    want = np.asarray(original.act(obs))
    got = frozen.act(obs)
    np.testing.assert_array_equal(got, want)
    assert np.unique(want).size > 1  # the policy does not answer one constant action
    one_by_one = np.array([frozen.act_one(obs[i]) for i in range(0, OBSERVATIONS, 20)])
    np.testing.assert_array_equal(
        one_by_one, np.array([original.act(obs[i : i + 1])[0] for i in range(0, OBSERVATIONS, 20)])
    )

    with pytest.raises(ArtifactError, match="trained on BTCUSDT, not ETHUSDT"):
        load_artifact(out, Expectation(symbol="ETHUSDT"))
