"""The top-level Hydra structured config: one typed tree, validated when composed.

Each layer owns the dataclass of its own section (``asterrl.data.config.DataConfig`` and so on); this module
assembles them and registers the schema with Hydra's ConfigStore, so ``conf/config.yaml`` and every group
file are checked against it (unknown keys and wrong types fail at load time).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore

from agents.config import register as register_agent_schemas
from agents.config import validate_agent
from asterrl.backtest.walkforward import WalkForwardConfig
from asterrl.data.config import DataConfig
from asterrl.features.config import FeaturesConfig
from asterrl.forecast.config import ForecastConfig
from asterrl.risk import RiskLimits
from envs.config import EnvConfig, check_splits_inside_span
from experiments.backtesting.config import BacktestConfig
from experiments.training.config import ExperimentConfig, RayConfig, TrainConfig


@dataclass
class AsterRLConfig:
    """Root of the configuration tree."""

    #: Seed of every random draw in a run (data splits, environments, networks, samplers).
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    env: EnvConfig = field(default_factory=EnvConfig)
    risk: RiskLimits = field(default_factory=RiskLimits)
    forecast: ForecastConfig = field(default_factory=ForecastConfig)
    #: The agent: one of the schemas in ``agents/config.py`` (``conf/agent/*.yaml`` names which).
    agent: Any = None
    train: TrainConfig = field(default_factory=TrainConfig)
    ray: RayConfig = field(default_factory=RayConfig)
    experiment: ExperimentConfig = field(default_factory=ExperimentConfig)
    backtest: BacktestConfig = field(default_factory=BacktestConfig)
    walkforward: WalkForwardConfig = field(default_factory=WalkForwardConfig)

    def validate(self, resolve_instrument: bool = True) -> AsterRLConfig:
        """Check every section before any work starts; one ``ConfigError`` line naming the key.

        :param resolve_instrument: also resolve ``data.symbol``'s instrument (store, instrument files,
            bundled) and check the risk limits and the date splits against it and ``data.start/end``;
            ``asterrl data`` skips it, since fetching is how a new symbol's instrument arrives.
        """
        self.data.validate()
        self.env.validate()
        self.risk.validate()
        self.forecast.validate()
        if self.agent is not None:
            validate_agent(self.agent)
        self.train.validate()
        self.ray.validate()
        self.experiment.validate()
        self.backtest.validate()
        self.walkforward.validate()
        check_splits_inside_span(self.env, self.data)
        if resolve_instrument:
            from asterrl.data.instruments import instrument_of

            self.risk.validate(instrument_of(self.data))
        return self


SCHEMA_NAME = "asterrl_schema"


def register() -> None:
    """Register the schema under ``asterrl_schema`` (idempotent)."""
    ConfigStore.instance().store(name=SCHEMA_NAME, node=AsterRLConfig)
    register_agent_schemas()
