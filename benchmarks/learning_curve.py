"""PPO learning curves per env step: does a configuration learn what another learns from the same data?

Each setting (``name=framework[@before][:k=v,...]``, as in ``benchmarks/training.py``) trains with every
seed of ``--seeds`` for ``--env-steps`` env steps on the shared BTCUSDT perp 1h data, one process per run,
one run at a time. A run records after each iteration the env steps so far and RLlib's or SB3's mean return
of the last finished training episodes, and every ``--eval-every`` env steps evaluates the greedy policy
on the validation split (the one evaluation path of ``asterrl evaluate``: one episode over the whole
split, the same costs). The table gives, per bin of env steps, the training return (mean over the
iterations ending in the bin, then over seeds) and the validation net return and Sharpe at the bin's end
(mean over seeds, each seed in brackets); ``--out`` keeps the raw curves as JSON.

    OMP_NUM_THREADS=1 python benchmarks/learning_curve.py [--env-steps 1000000] [--seeds 0,1]
        [--eval-every 100000] [--setting ...] [--out curves.json] [key=value ...]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from training import BEFORE_CONFIG, ROOT, child_env, setting_trainer

DEFAULT_SETTINGS = [f"before-config=rllib:{BEFORE_CONFIG}", "default=rllib"]


def curve(framework: str, env_steps: int, eval_every: int, overrides: list[str]) -> dict[str, Any]:
    """Train one run for ``env_steps`` env steps; its training-return and validation curves."""
    from experiments.training.environment import evaluation_core
    from experiments.training.evaluation import evaluate_policy

    start = time.perf_counter()
    with setting_trainer(framework, overrides) as (cfg, market, trainer):
        validation = evaluation_core(cfg, market, "validation")
        training: list[tuple[int, float]] = []
        evaluations: list[dict[str, float]] = []
        next_eval = eval_every
        while trainer.env_steps < env_steps:
            scalars = trainer.iterate()
            if "episode_return_mean" in scalars:
                training.append((trainer.env_steps, scalars["episode_return_mean"]))
            if trainer.env_steps >= next_eval or trainer.env_steps >= env_steps:
                metrics = evaluate_policy(trainer.policy(), validation, cfg.seed).metrics
                point = {"env_steps": trainer.env_steps, "net_return": metrics.net_return}
                evaluations.append({**point, "sharpe": metrics.sharpe})
                next_eval = (trainer.env_steps // eval_every + 1) * eval_every
    return {"training": training, "validation": evaluations, "seconds": time.perf_counter() - start}


def _run(spec: str, seed: int, args: argparse.Namespace, extra: list[str]) -> dict[str, Any]:
    name, rest = spec.split("=", 1)
    head, _, overrides = rest.partition(":")
    framework, _, tree = head.partition("@")
    code = Path(args.before_tree) if tree == "before" else ROOT
    command = [sys.executable, __file__, "--worker", framework, "--env-steps", str(args.env_steps)]
    command += ["--eval-every", str(args.eval_every), f"seed={seed}"]
    command += [o for o in overrides.split(",") if o] + extra
    done = subprocess.run(command, env=child_env(code), capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        raise SystemExit(f"setting {name} seed {seed} failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])  # type: ignore[no-any-return]


def _mean(values: list[float]) -> float:
    """Mean of the finite values (an iteration that finished no episode reports NaN)."""
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else float("nan")


def table(runs: dict[str, dict[str, dict[str, Any]]], env_steps: int, width: int) -> str:
    """Per bin of ``width`` env steps: training return, validation net return and Sharpe, per setting."""
    heads = [f"{n}: train return / val. net return / val. Sharpe" for n in runs]
    lines = ["| env steps | " + " | ".join(heads) + " |"]
    lines.append("|---" * (len(runs) + 1) + "|")
    for lo in range(0, env_steps, width):
        hi = lo + width
        cells = []
        for seeds in runs.values():
            last = hi >= env_steps  # the last bin also takes the final iteration's overshoot
            train = [
                _mean([r for s, r in run["training"] if lo < s and (s <= hi or last)])
                for run in seeds.values()
            ]
            evals = [
                next((e for e in run["validation"] if e["env_steps"] >= hi), run["validation"][-1])
                for run in seeds.values()
            ]
            ret = [e["net_return"] for e in evals]
            sharpe = [e["sharpe"] for e in evals]
            cells.append(
                f"{_mean(train):+.3f} / {_mean(ret):+.1%} ({', '.join(f'{x:+.1%}' for x in ret)}) / "
                f"{_mean(sharpe):+.2f} ({', '.join(f'{x:+.2f}' for x in sharpe)})"
            )
        lines.append(f"| {lo // 1000}k-{hi // 1000}k | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--env-steps", type=int, default=1_000_000, help="env steps per run")
    parser.add_argument("--seeds", default="0,1", help="comma-separated seeds")
    parser.add_argument("--eval-every", type=int, default=100_000, help="env steps between validations")
    before = os.environ.get("ASTERRL_BENCH_BEFORE_TREE", "/tmp/asterrl-before")
    parser.add_argument("--before-tree", default=before, help="checkout of the code before issue 12")
    parser.add_argument("--setting", action="append", help="NAME=FRAMEWORK[@before][:k=v,...] (repeatable)")
    parser.add_argument("--out", help="keep the raw curves here (JSON); runs already in it are not redone")
    parser.add_argument("--table-only", action="store_true", help="print the table of --out; train nothing")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args, overrides = parser.parse_known_args(argv)
    if args.worker:
        print(json.dumps(curve(args.worker, args.env_steps, args.eval_every, overrides)))
        return 0
    if args.table_only:
        print(table(json.loads(Path(args.out).read_text()), args.env_steps, args.eval_every))
        return 0
    settings = args.setting or DEFAULT_SETTINGS
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"curves: {args.env_steps:,} env steps x seeds {seeds}, validation every {args.eval_every:,}")
    runs: dict[str, dict[str, dict[str, Any]]] = {spec.split("=", 1)[0]: {} for spec in settings}
    if args.out and Path(args.out).exists():
        runs.update({k: v for k, v in json.loads(Path(args.out).read_text()).items() if k in runs})
    for seed in map(str, seeds):  # settings alternate, so a change in the box's load hits them alike
        for spec in settings:
            name = spec.split("=", 1)[0]
            if seed in runs[name]:
                continue
            load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
            runs[name][seed] = _run(spec, int(seed), args, overrides)
            seconds = runs[name][seed]["seconds"]
            print(f"  {name} seed {seed}: {seconds:.0f} s (load average before {load})", flush=True)
            if args.out:
                Path(args.out).write_text(json.dumps(runs, indent=1))
    print(table(runs, args.env_steps, args.eval_every))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
