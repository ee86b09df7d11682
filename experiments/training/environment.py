"""The env of a run, from its config: market data, the fitted feature pipeline, and ``EnvCore`` per split.

The feature pipeline's normalisation is fitted on the training split only and then applied to every
split, so that validation and test bars never leak into the statistics. The same ``RunMarket`` serves
training, evaluation and every agent of a comparison (same data, same costs).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from agents.policy import ActionMapping
from asterrl.data.market import MarketData, load_market
from asterrl.features.inputs import MarketInputs
from asterrl.features.matrix import FeatureMatrix
from asterrl.features.pipeline import FeaturePipeline
from asterrl.forecast.observation import with_forecasts
from asterrl.observation import builtin_features
from asterrl.sim.instrument import Instrument
from envs.core import EnvCore, build_core, split_rows
from experiments.training.checkpoints import PolicyInterface

if TYPE_CHECKING:
    from experiments.schema import AsterRLConfig


@dataclass
class RunMarket:
    """Market data and features of a run, shared by every env it builds.

    :param market: the loaded bars, funding and mark (``market.data_hash`` identifies them).
    :param features: observation features aligned with ``market.bars``.
    :param pipeline: the fitted feature pipeline (``None`` with the built-in features).
    """

    market: MarketData
    features: FeatureMatrix
    pipeline: FeaturePipeline | None

    @property
    def bars(self) -> pd.DataFrame:
        return self.market.bars

    @property
    def data_hash(self) -> str:
        return self.market.data_hash

    @property
    def instrument(self) -> Instrument:
        """The traded symbol's trading rules (recorded in every run's ``run.json``)."""
        return self.market.instrument


def split_span(cfg: AsterRLConfig, bars: pd.DataFrame, split: str) -> tuple[int, int]:
    """First and last row of ``split`` in ``bars`` (``env.splits`` dates, else ``env.split_fractions``)."""
    rows = split_rows(dataclasses.replace(cfg.env, split=split), bars["timestamp"].to_numpy(np.int64))
    return int(rows[0]), int(rows[-1])


def prepare_market(cfg: AsterRLConfig, show_progress: bool = True) -> RunMarket:
    """Load ``cfg.data`` and compute ``cfg.features`` (normalisation fitted on ``env.splits.train``), plus the
    walk-forward forecast columns of ``cfg.forecast.artifacts`` when set."""
    market = load_market(cfg.data, cfg.seed, show_progress=show_progress)
    timestamps = market.bars["timestamp"].to_numpy(np.int64)
    features_cfg = cfg.features
    if not features_cfg.features:
        features, pipeline = builtin_features(market.bars), None
    else:
        pipeline = FeaturePipeline.from_config(features_cfg)
        inputs = MarketInputs.from_frames(market.bars, market.funding)
        stop = split_span(cfg, market.bars, "train")[1] + 1
        features = pipeline.fit_transform(inputs, stop)
    return RunMarket(market, with_forecasts(features, timestamps, cfg.forecast), pipeline)


def build_env_core(cfg: AsterRLConfig, run_market: RunMarket, split: str, **overrides: Any) -> EnvCore:
    """``EnvCore`` of ``split`` over the run's market; ``overrides`` are ``EnvConfig`` fields."""
    return build_core(
        config=cfg.env,
        risk=cfg.risk,
        data=run_market.market,
        features=run_market.features,
        split=split,
        **overrides,
    )


def evaluation_core(cfg: AsterRLConfig, run_market: RunMarket, split: str, **overrides: Any) -> EnvCore:
    """``EnvCore`` of one deterministic episode over the whole of ``split`` (evaluation)."""
    return build_env_core(cfg, run_market, split, episode_length=0, random_start=False, **overrides)


def action_mapping(core: EnvCore) -> ActionMapping:
    """How rule agents' target positions map onto this env's actions."""
    return ActionMapping(
        core.config.action_type,
        tuple(float(x) for x in core.config.action_levels),
        core.position_scale,
        core.instrument,
    )


def train_window_start(train_core: EnvCore, bars: int) -> int:
    """First decision bar of the last ``bars`` bars of ``train_core``'s split (its first bar when shorter)."""
    lo, hi = train_core.start_bounds
    return max(lo, min(hi, train_core.coverage_range[2] - bars))


def policy_interface(core: EnvCore) -> PolicyInterface:
    """The observation layout and action space a policy trained on ``core`` takes and gives."""
    discrete = core.config.action_type == "discrete"
    return PolicyInterface(
        core.layout, core.config.action_type, len(core.config.action_levels) if discrete else 0
    )
