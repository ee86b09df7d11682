"""``asterrl export checkpoint=PATH [out=DIR] [key=value ...]``: write a frozen policy artifact.

The checkpoint's run supplies the config; the market is prepared again (same data, checked by its hash) so
that the feature pipeline is fitted on the same training split, and the artifact records it with its
statistics. The network is captured with ``torch.export``; before the command returns, the artifact is loaded
back with ``asterrl.live`` and its actions are compared with the original policy's on observations of the
run's test split (an export that would act differently is deleted and refused).

Default ``out``: ``<run dir>/artifacts/<checkpoint name>``.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from asterrl.errors import ArtifactError, ConfigError
from experiments.cli import split_overrides

#: Observations of the test split the export is checked on.
SELF_CHECK_OBSERVATIONS = 512


def run(argv: Sequence[str]) -> int:
    options, overrides = split_overrides(argv)
    if any(o in ("-h", "--help") for o in options):
        print(__doc__)
        return 0
    if options:
        raise ConfigError(
            f"unknown option(s) {' '.join(options)}; usage: asterrl export checkpoint=PATH [out=DIR]"
        )
    named = {
        key: o.split("=", 1)[1] for o in overrides for key in ("checkpoint", "out") if o.startswith(f"{key}=")
    }
    rest = [o for o in overrides if not o.startswith(("checkpoint=", "out="))]
    if "checkpoint" not in named:
        raise ConfigError("asterrl export needs checkpoint=PATH (a checkpoints/<name> folder of a train run)")
    out = Path(named["out"]).expanduser() if "out" in named else None
    target = export_checkpoint(Path(named["checkpoint"]).expanduser(), out, rest)
    print(f"exported: {target}")
    return 0


def export_checkpoint(checkpoint: Path, out: Path | None = None, overrides: list[str] | None = None) -> Path:
    """Export ``checkpoint`` (an RLlib or SB3 checkpoint of ``asterrl train``) as a frozen artifact."""
    import torch

    from agents.export.manifest_sections import FORECAST_DIR, forecast_section, manifest_body
    from agents.export.networks import rllib_network, sb3_network
    from asterrl.live.manifest import write_artifact
    from experiments.training.checkpoints import read_info, run_dir_of
    from experiments.training.environment import action_mapping, build_env_core, prepare_market
    from experiments.training.rundir import load_run_config

    if not checkpoint.is_dir():
        raise ConfigError(f"checkpoint {checkpoint} is not a folder")
    info = read_info(checkpoint)
    run_dir = run_dir_of(checkpoint, info)
    cfg = load_run_config(run_dir, info.agent_schema, overrides)
    framework = info.framework
    if framework not in ("rllib", "sb3"):
        raise ConfigError(f"checkpoint {checkpoint}: framework {framework!r} cannot be exported")
    market = prepare_market(cfg, show_progress=False)
    if info.data_hash and market.data_hash != info.data_hash:
        raise ArtifactError(
            f"the data of {checkpoint}'s run changed since training (hash {market.data_hash[:12]} vs "
            f"{info.data_hash[:12]}): the fitted features cannot be reproduced"
        )
    core = build_env_core(cfg, market, "train")
    if core.layout.kind != "box":
        raise ConfigError("asterrl export supports env.observation=box policies")
    mapping = action_mapping(core)
    discrete = mapping.action_type == "discrete"
    build = sb3_network if framework == "sb3" else rllib_network
    network = build(checkpoint, core.layout.size, discrete)
    training = {
        "run_id": run_dir.name,
        "experiment": run_dir.parent.name,
        "checkpoint": str(checkpoint.resolve()),
        "iteration": info.iteration,
        "env_steps": info.env_steps,
        "seed": info.seed,
        "data_hash": market.data_hash,
        "fit_span": _fit_span(market.pipeline),
    }
    forecast = forecast_section(cfg.forecast.artifacts, list(cfg.forecast.observe))
    body = manifest_body(
        source=framework, agent=info.agent, core=core, mapping=mapping, pipeline=market.pipeline,
        symbol=cfg.data.symbol, interval=cfg.data.interval, training=training, forecast=forecast,
    )  # fmt: skip
    copies = {FORECAST_DIR: Path(cfg.forecast.artifacts).expanduser()} if forecast else None
    target = out or run_dir / "artifacts" / checkpoint.name
    written = write_artifact(target, lambda path: torch.export.save(network, str(path)), body, copies)
    try:
        _self_check(written, checkpoint, framework, cfg, market)
    except BaseException:
        shutil.rmtree(written, ignore_errors=True)
        raise
    return written


def _fit_span(pipeline: Any) -> list[int] | None:
    stats = getattr(pipeline, "stats", None)
    return None if stats is None else [int(stats.start), int(stats.stop)]


def _self_check(artifact: Path, checkpoint: Path, framework: str, cfg: Any, market: Any) -> None:
    """Load the artifact as the bridge does and compare its actions with the original policy's."""
    from agents.policy import Policy
    from asterrl.live.artifact import load_artifact
    from experiments.training.environment import build_env_core

    frozen = load_artifact(artifact)
    original: Policy
    if framework == "sb3":
        from agents.sb3.ppo import SB3Policy

        original = SB3Policy.load(checkpoint)
    else:
        from agents.rllib.policy import RLlibPolicy

        original = RLlibPolicy.load(checkpoint)
    core = build_env_core(cfg, market, cfg.experiment.test_split)
    obs = recorded_observations(core, SELF_CHECK_OBSERVATIONS)
    want = np.asarray(original.act(obs))
    got = frozen.act(obs)
    if not np.array_equal(want.reshape(got.shape), got):
        raise ArtifactError(
            f"the exported network acts differently from {checkpoint} on the test split: export refused"
        )


def recorded_observations(core: Any, count: int, seed: int = 0) -> np.ndarray:
    """``count`` observations of ``core``'s split, recorded while random actions trade a batch of accounts
    (so that positions, PnL and margin vary as well as the market)."""
    from envs.vector_env import AsterPerpVectorEnv

    accounts = min(16, count)
    env = AsterPerpVectorEnv(num_envs=accounts, core=core)
    env.action_space.seed(seed)
    rows: list[np.ndarray] = []
    obs, _ = env.reset(seed=seed)
    while sum(r.shape[0] for r in rows) < count:
        rows.append(np.asarray(obs, dtype=np.float32).copy())
        obs, *_ = env.step(env.action_space.sample())
    env.close()
    return np.concatenate(rows)[:count]
