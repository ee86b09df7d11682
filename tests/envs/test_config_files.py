"""The YAML defaults load into the structured configs and equal the dataclass defaults."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from asterrl.risk import RiskLimits
from envs.config import EnvConfig

CONF = Path(__file__).resolve().parents[2] / "conf"


def test_env_and_risk_yaml_match_the_schemas() -> None:
    env = OmegaConf.to_object(
        OmegaConf.merge(OmegaConf.structured(EnvConfig), OmegaConf.load(CONF / "env/default.yaml"))
    )
    assert env == EnvConfig()
    assert isinstance(env, EnvConfig) and env.validate() is env
    risk = OmegaConf.to_object(
        OmegaConf.merge(OmegaConf.structured(RiskLimits), OmegaConf.load(CONF / "risk/default.yaml"))
    )
    assert risk == RiskLimits()
