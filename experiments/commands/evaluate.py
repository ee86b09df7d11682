"""``asterrl evaluate checkpoint=PATH [key=value ...]``: evaluate a trained checkpoint on the test split.

The checkpoint's run supplies the config (data, features, env, costs); ``key=value`` overrides apply on top
(e.g. ``experiment.test_split=validation``). Prints the trading metrics, writes them to
``<run>/eval/<split>.json`` and to the TensorBoard run ``<run>-<split>`` of the experiment.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from asterrl.errors import ConfigError
from experiments.cli import split_overrides


def run(argv: Sequence[str]) -> int:
    options, overrides = split_overrides(argv)
    if any(o in ("-h", "--help") for o in options):
        print(__doc__)
        return 0
    if options:
        raise ConfigError(f"unknown option(s) {' '.join(options)}; usage: asterrl evaluate checkpoint=PATH")
    paths = [o.split("=", 1)[1] for o in overrides if o.startswith("checkpoint=")]
    rest = [o for o in overrides if not o.startswith("checkpoint=")]
    if not paths:
        raise ConfigError(
            "asterrl evaluate needs checkpoint=PATH (a checkpoints/<name> folder of a train run)"
        )
    result = evaluate_checkpoint(Path(paths[-1]).expanduser(), rest)
    m: dict[str, float] = result["metrics"]  # type: ignore[assignment]
    print(f"{result['agent']} on {result['split']} ({result['steps']} bars):")
    for key, value in m.items():
        print(f"  {key:<14}{value:.6g}")
    print(f"written: {result['path']}")
    return 0


def evaluate_checkpoint(checkpoint: Path, overrides: list[str] | None = None) -> dict[str, object]:
    """Evaluate ``checkpoint`` on ``experiment.test_split``; returns metrics and where they were written."""
    from agents.policy import Policy
    from experiments.training.environment import evaluation_core, prepare_market
    from experiments.training.evaluation import evaluate_policy
    from experiments.training.run import load_run_config
    from experiments.training.rundir import write_json
    from experiments.training.tensorboard import RunWriter

    if not checkpoint.is_dir():
        raise ConfigError(f"checkpoint {checkpoint} is not a folder")
    cfg, info = load_run_config(checkpoint, overrides)
    policy: Policy
    if info["framework"] == "sb3":
        from agents.sb3.ppo import SB3Policy

        policy = SB3Policy.load(checkpoint, info["agent"])
    else:
        from agents.rllib.policy import RLlibPolicy

        policy = RLlibPolicy.load(checkpoint, info["agent"])
    split = cfg.experiment.test_split
    market = prepare_market(cfg, show_progress=False)
    evaluation = evaluate_policy(policy, evaluation_core(cfg, market, split), cfg.seed)
    run_dir = Path(info["run_dir"])
    path = write_json(
        run_dir / "eval" / f"{split}-{checkpoint.name}.json",
        {
            "checkpoint": str(checkpoint.resolve()),
            "split": split,
            "seed": cfg.seed,
            "data_hash": market.data_hash,
            "instrument": market.instrument.to_dict(),
            "metrics": evaluation.metrics.as_dict(),
        },
    )
    with RunWriter(run_dir.parent / "tensorboard", f"{run_dir.name}-{split}") as writer:
        writer.trading(
            evaluation.metrics, int(info.get("env_steps", 0)), evaluation.trace.actions, evaluation.n_actions
        )
    return {
        "agent": info["agent"],
        "split": split,
        "steps": evaluation.trace.steps,
        "metrics": evaluation.metrics.as_dict(),
        "path": str(path),
        "evaluation": evaluation,
    }
