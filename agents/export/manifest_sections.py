"""The sections of a frozen policy's manifest, from the objects a training run is made of.

``asterrl.live.manifest`` defines the format (and writes and reads it); this module only gathers what goes
into it: the env's observation layout and action rule, the fitted feature pipeline, the forecast models,
the market model, the risk limits and the run's provenance.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from agents.policy import ActionMapping
from asterrl.features.pipeline import FeaturePipeline
from asterrl.live.manifest import NETWORK_FILE, ActionSpec
from asterrl.provenance import git_revision, package_versions
from envs.core import EnvCore

#: Folder of the artifact that holds the copied forecast models.
FORECAST_DIR = "forecast"


def features_section(pipeline: FeaturePipeline | None) -> dict[str, Any]:
    """``{"kind": "builtin"}`` or the fitted pipeline (spec and statistics)."""
    if pipeline is None:
        return {"kind": "builtin"}
    return {"kind": "pipeline", "pipeline": pipeline.to_dict()}


def forecast_section(artifacts: str, observe: list[str]) -> dict[str, Any] | None:
    """The forecast models joining the observation (copied under ``forecast/``), or ``None``."""
    if not artifacts:
        return None
    from asterrl.forecast.artifacts import read_manifest

    directory = Path(artifacts).expanduser()
    manifest = read_manifest(directory)
    outputs = list(manifest["outputs"])
    return {
        "dir": FORECAST_DIR,
        "observe": list(observe) or outputs,
        "outputs": outputs,
        "horizon": int(manifest["horizon"]),
        "window": int(manifest["window"]),
        "fold_plan": f"{FORECAST_DIR}/fold_plan.json",
        "final_dir": manifest.get("final_dir"),
    }


def action_section(core: EnvCore, mapping: ActionMapping) -> dict[str, Any]:
    """The env's rule from action to target position (``ActionSpec``)."""
    cfg = core.config
    return ActionSpec(
        action_type=mapping.action_type,
        levels=tuple(float(x) for x in mapping.levels),
        position_scale=float(mapping.position_scale),
        deadband=float(cfg.deadband),
        min_hold_bars=int(cfg.min_hold_bars),
        order_type=str(cfg.order_type),
        limit_offset_bps=float(cfg.limit_offset_bps),
    ).to_dict()


def market_section(core: EnvCore, symbol: str, interval: str) -> dict[str, Any]:
    """Symbol, interval, the instrument (when the env carries one) and the market model's config."""
    instrument = getattr(core, "instrument", None)
    return {
        "symbol": symbol,
        "interval": interval,
        "instrument": instrument.to_dict() if instrument is not None else None,
        "model": dataclasses.asdict(core.config.market),
        "initial_balance": float(core.config.initial_balance),
    }


def versions_section() -> dict[str, Any]:
    """Python and package versions, and the git revision, at export."""
    return {"python": sys.version.split()[0], "packages": package_versions(), "git": git_revision()}


def manifest_body(
    *,
    source: str,
    agent: str,
    core: EnvCore,
    mapping: ActionMapping,
    pipeline: FeaturePipeline | None,
    symbol: str,
    interval: str,
    training: dict[str, Any],
    forecast: dict[str, Any] | None,
) -> dict[str, Any]:
    """Every manifest section but ``files`` and ``manifest_sha256`` (``write_artifact`` adds those)."""
    output = "discrete_index" if mapping.action_type == "discrete" else "continuous_value"
    return {
        "policy": {
            "source": source,
            "agent": agent,
            "file": NETWORK_FILE,
            "recurrent": False,
            "deterministic": True,
            "input": f"float32 (batch, {core.layout.size})",
            "output": output,
        },
        "observation": core.layout.to_manifest(),
        "features": features_section(pipeline),
        "forecast": forecast,
        "action": action_section(core, mapping),
        "market": market_section(core, symbol, interval),
        "risk": core.risk.to_manifest(),
        "training": json.loads(json.dumps(training, default=str)),
        "versions": versions_section(),
    }
