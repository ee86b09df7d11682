"""A PPO agent (Stable-Baselines3) trains end to end on an env whose observation carries forecast columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from asterrl.data.market import MarketData
from asterrl.features import FeaturePipeline, FeaturesConfig, FeatureSpecConfig, MarketInputs
from asterrl.features.matrix import FeatureMatrix
from asterrl.forecast import train_forecasts, with_forecasts

from .conftest import tiny_config

FEATURES = FeaturesConfig(
    features=[
        FeatureSpecConfig(name="log_return", params={"lag": 1}),
        FeatureSpecConfig(name="rsi", params={"period": 14}),
        FeatureSpecConfig(name="realized_vol", params={"window": 24}),
    ]
)


@pytest.mark.slow
def test_sb3_ppo_trains_with_forecast_columns(synthetic_market: MarketData, tmp_path: Path) -> None:
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3 import PPO

    from envs.core import build_core
    from envs.perp_env import AsterPerpEnv

    cfg = tiny_config(models=["xgboost", "cnn"])
    run = train_forecasts(synthetic_market, FEATURES, cfg, seed=0, output_dir=tmp_path / "fc")
    bars = synthetic_market.bars
    inputs = MarketInputs.from_frames(bars, synthetic_market.funding)
    features = FeaturePipeline.from_config(FEATURES).fit_transform(inputs, stop=len(bars) // 2)
    assert isinstance(features, FeatureMatrix)  # the one class of that name, from pipeline to env
    cfg.artifacts = str(run.directory)
    observed = with_forecasts(features, bars["timestamp"].to_numpy(), cfg)
    assert observed.columns[-6:] == tuple(
        f"fc3_{m}_{k}" for m in ("xgboost", "cnn", "ensemble") for k in ("ret", "up")
    )
    # bars before the first out-of-fold forecast are warm-up: episodes start after them
    assert observed.first_valid_row == run.result.plan.first_test_row
    core = build_core(
        {"window": 4, "episode_length": 32, "split_fractions": [0.8, 0.1, 0.1]},
        data=bars, funding=synthetic_market.funding, mark=synthetic_market.mark, features=observed,
        instrument=synthetic_market.instrument,
    )  # fmt: skip
    assert core.layout.n_features == len(features.columns) + 6
    env = AsterPerpEnv(core)
    check_env(env, skip_render_check=True)
    obs, info = env.reset(seed=0)
    # The observation's window is rows t-3..t of the observed matrix, t the decision bar: its newest row
    # ends with the decision bar's six forecast columns (finite), not any other bar's.
    nf = core.layout.n_features
    env.action_space.seed(0)
    for _ in range(3):
        bar = int(info["bar"])
        window = obs[: 4 * nf].reshape(4, nf)
        np.testing.assert_array_equal(window, observed.values[bar - 3 : bar + 1])
        assert np.isfinite(window[-1, -6:]).all()
        assert not np.array_equal(observed.values[bar + 1, -6:], window[-1, -6:])
        obs, _, _, _, info = env.step(env.action_space.sample())
    model = PPO("MlpPolicy", env, n_steps=64, batch_size=32, n_epochs=1, seed=0, device="cpu", verbose=0)
    model.learn(total_timesteps=128)
    assert model.num_timesteps == 128
    action, _ = model.predict(env.reset(seed=1)[0], deterministic=True)
    assert env.action_space.contains(action)
