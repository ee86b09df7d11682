"""The top-level Hydra structured config: one typed tree, validated when composed.

Each layer owns the dataclass of its own section (``asterrl.data.config.DataConfig`` and so on); this module
assembles them and registers the schema with Hydra's ConfigStore, so ``conf/config.yaml`` and every group
file are checked against it (unknown keys and wrong types fail at load time). ``validate`` then runs every
section's own checks, innermost first, so that an out-of-range value ends as one line naming its key.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore

from agents.config import AgentConfig, validate_agent
from agents.config import register as register_agent_schemas
from asterrl.backtest.walkforward import WalkForwardConfig
from asterrl.data.config import DataConfig
from asterrl.errors import ConfigError
from asterrl.features.config import FeaturesConfig
from asterrl.forecast.config import ForecastConfig
from asterrl.risk import RiskLimits
from envs.config import EnvConfig, check_splits_inside_span
from experiments.backtesting.config import BacktestConfig
from experiments.suggest import did_you_mean
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
    #: The agent: one of the schemas in ``agents/config.py`` (``conf/agent/*.yaml`` names which). Typed
    #: ``Any`` here because a structured config field cannot be a union of dataclasses; ``agent_config``
    #: gives it typed.
    agent: Any = None
    train: TrainConfig = field(default_factory=TrainConfig)
    ray: RayConfig = field(default_factory=RayConfig)
    experiment: ExperimentConfig = field(default_factory=ExperimentConfig)
    backtest: BacktestConfig = field(default_factory=BacktestConfig)
    walkforward: WalkForwardConfig = field(default_factory=WalkForwardConfig)

    def agent_config(self) -> AgentConfig:
        """The validated agent section as its dataclass."""
        return validate_agent(self.agent)

    def validate(self, resolve_instrument: bool = True) -> AsterRLConfig:
        """Check every section before any work starts; one ``ConfigError`` line naming the key.

        :param resolve_instrument: also resolve ``data.symbol``'s instrument (store, instrument files,
            bundled) and check the risk limits and the date splits against it and ``data.start/end``;
            ``asterrl data`` skips it, since fetching is how a new symbol's instrument arrives.
        """
        validate_sections(self)
        check_splits_inside_span(self.env, self.data)
        if resolve_instrument:
            from asterrl.data.instruments import instrument_of

            instrument = instrument_of(self.data)
            _validate_tree(self.risk, "risk", lambda risk: risk.validate(instrument))
        return self


SCHEMA_NAME = "asterrl_schema"


def register() -> None:
    """Register the schema under ``asterrl_schema`` (idempotent)."""
    ConfigStore.instance().store(name=SCHEMA_NAME, node=AsterRLConfig)
    register_agent_schemas()


def validate_sections(cfg: AsterRLConfig) -> AsterRLConfig:
    """Run every section's checks (innermost dataclass first); return ``cfg``.

    :raises ConfigError: one line that names the key: a message that names none is prefixed with the
        field it starts with (``leverage must lie in [1, 125]`` -> ``config key
        'env.market.margin.leverage': ...``), or else with the section.
    """
    for name in (
        "data",
        "features",
        "env",
        "risk",
        "forecast",
        "train",
        "ray",
        "experiment",
        "backtest",
        "walkforward",
    ):
        _validate_tree(getattr(cfg, name), name)
    if cfg.agent is not None:
        _validate_tree(cfg.agent, "agent", validate_agent)
    return cfg


def _validate_tree(node: object, path: str, check: Any = None) -> None:
    if not dataclasses.is_dataclass(node) or isinstance(node, type):
        return
    for f in dataclasses.fields(node):
        _validate_tree(getattr(node, f.name), f"{path}.{f.name}")
    run = check or getattr(node, "validate", None)
    if run is None:
        return
    try:
        run(node) if check is not None else run()
    except ConfigError as exc:
        raise ConfigError(keyed_message(str(exc), path, node)) from None


def keyed_message(message: str, path: str, node: object) -> str:
    """``message`` with the config key it is about in front, unless it already names a key under ``path``;
    a value that is not one of the listed choices gets the nearest choice suggested."""
    choice = re.match(r"(\S+)=('?)([^';]*)\2; expected one of (.+)$", message)
    if choice and "did you mean" not in message:
        options = [o.strip() for o in re.split(r",| or ", choice.group(4)) if o.strip()]
        hint = did_you_mean(choice.group(3), options)
        if hint:
            key, quote, value, listed = choice.groups()
            message = f"{key}={quote}{value}{quote}{hint} (expected one of {listed})"
    root = path.split(".")[0]
    if re.search(rf"(^|[\s'`]){re.escape(root)}[.\[]", message) or message.startswith("config key"):
        return message
    fields = {f.name for f in dataclasses.fields(node)} if dataclasses.is_dataclass(node) else set()
    first = re.match(r"[A-Za-z_][A-Za-z0-9_]*", message)
    key = f"{path}.{first.group(0)}" if first and first.group(0) in fields else path
    return f"config key '{key}': {message}"
