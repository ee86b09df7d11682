"""PPO training throughput: env steps per second of wall time and per CPU-second, and where the time goes.

Each setting trains in its own process (its own Ray), on the shared BTCUSDT perp 1h data by default, and
the settings take turns over ``--repeats`` rounds so that a change in the box's load hits all of them
alike. A setting is ``name=framework[@tree][:override,override...]``; ``@before`` runs the code of
``--before-tree`` (a checkout of the commit to compare against), otherwise this tree's code runs. The
defaults compare, for RLlib and SB3, the configuration before issue 12 on the code before it, the same
configuration on this code, and the default configuration (``conf/agent/ppo.yaml``) on this code.

    OMP_NUM_THREADS=1 python benchmarks/training.py [--iterations 3] [--repeats 3] [--before-tree DIR]
        [--profile] [--setting NAME=FRAMEWORK[@before][:k=v,...] ...] [key=value ...]

Figures per setting: the median over the rounds of the wall-clock rate (env steps per second, sampling and
learning together, after one warm-up iteration) and of the CPU time per env step (``time.process_time`` of
the training process: on a shared box the wall rate falls with the load, the CPU time much less).
``--profile`` adds one more round per setting under py-spy (a sampling profiler, so the profiled code runs
at full speed; ``pip install py-spy``, not a project dependency) and splits the CPU time per env step into
sampling (env step, policy forward, connectors, the rest) and learning (episodes to a batch and GAE,
minibatch shuffling, SGD updates, the rest). Trailing ``key=value`` overrides go to every setting.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

#: The agent configuration before issue 12: 8 accounts, 2,048-step batches, 256-step minibatches.
BEFORE_CONFIG = "agent.num_envs_per_env_runner=8,agent.train_batch_size=2048,agent.minibatch_size=256"
DEFAULT_SETTINGS = [
    f"rllib-before=rllib@before:{BEFORE_CONFIG}",
    f"rllib-old-config=rllib:{BEFORE_CONFIG}",
    "rllib=rllib",
    f"sb3-before=sb3@before:{BEFORE_CONFIG}",
    "sb3=sb3",
]

#: Profile components, most specific first: (label, rules); a rule ``(function, path part)`` matches a
#: frame of that function (any, when empty) in a file whose path holds the part. A timed sample goes to the
#: first component one of whose rules matches a frame of its stack; start-up and warm-up are left out.
COMPONENTS: list[tuple[str, tuple[tuple[str, str], ...]]] = [
    ("sampling: env step (numba kernel and wrapper)", (("step", "envs/vector_env.py"),)),
    (
        "sampling: policy forward and action draw",
        (
            ("forward_exploration", "rllib/core/rl_module"),
            ("_act", "agents/rllib"),
            ("forward", "stable_baselines3"),
        ),
    ),
    ("learning: episodes to batch, GAE (learner connector)", (("", "learner_connector_pipeline.py"),)),
    ("sampling: connectors", (("", "rllib/connectors/"),)),
    ("sampling: the rest (episodes, per-account work)", (("sample", "rllib/env/"), ("collect_rollouts", ""))),
    ("learning: minibatch shuffle and slicing", (("", "minibatch_utils.py"),)),
    (
        "learning: SGD updates (forward, backward, Adam)",
        (("_update", "torch_learner.py"), ("train", "stable_baselines3/ppo/")),
    ),
    ("learning: the rest", (("update", "rllib/core/learner/"),)),
    ("other (metrics, weight sync)", (("_timed_iterations", ""),)),
]


def _frames(stack: str) -> list[tuple[str, str]]:
    """``(function, path)`` of each frame of a py-spy raw stack (``Class.func (path:line);...``)."""
    out = []
    for frame in stack.split(";"):
        name, _, where = frame.partition(" (")
        out.append((name.rsplit(".", 1)[-1], where.rsplit(":", 1)[0]))
    return out


def breakdown(raw: str) -> dict[str, float]:
    """Share of the timed samples of a py-spy raw (collapsed-stack) file in each component."""
    counts = {label: 0 for label, _ in COMPONENTS}
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        frames = _frames(stack)
        if not any(name == "_timed_iterations" for name, _ in frames):
            continue
        for label, rules in COMPONENTS:
            if any((not f or f == name) and part in path for f, part in rules for name, path in frames):
                counts[label] += int(count)
                break
    total = sum(counts.values()) or 1
    return {label: n / total for label, n in counts.items()}


@contextlib.contextmanager
def setting_trainer(framework: str, overrides: list[str]) -> Iterator[tuple[Any, Any, Any]]:
    """``(cfg, market, trainer)`` of a setting on the shared data (Ray runs while an RLlib one is open)."""
    import torch

    from experiments.config import load_config
    from experiments.training.environment import build_env_core, prepare_market
    from experiments.training.ray_session import ray_session
    from experiments.training.trainers import RLlibTrainer, SB3Trainer

    agent = "agent=ppo" if framework == "rllib" else "agent=sb3_ppo"
    cfg = load_config(["data=shared_btcusdt_1h", agent, *overrides])
    market = prepare_market(cfg, show_progress=False)
    torch.set_num_threads(cfg.agent.torch_threads)
    autoreset = "next_step" if framework == "rllib" else "same_step"
    core = build_env_core(cfg, market, "train", autoreset_mode=autoreset)
    with tempfile.TemporaryDirectory(prefix="asterrl-bench-") as tmp:
        session = ray_session(cfg.ray, Path(tmp)) if framework == "rllib" else contextlib.nullcontext()
        with session:
            trainer = (RLlibTrainer if framework == "rllib" else SB3Trainer)(cfg.agent, core, cfg.seed)
            try:
                yield cfg, market, trainer
            finally:
                trainer.close()


def child_env(tree: Path) -> dict[str, str]:
    """Environment of a setting's process: ``tree``'s code, the shared data beside this checkout."""
    shared = os.environ.get("ASTERRL_SHARED_DATA", str((ROOT / ".." / "shared" / "data").resolve()))
    return {**os.environ, "PYTHONPATH": str(tree.resolve()), "ASTERRL_SHARED_DATA": shared}


def worker(framework: str, iterations: int, overrides: list[str]) -> dict[str, Any]:
    """Train ``iterations`` timed iterations after one warm-up; wall rate and CPU time per env step."""
    with setting_trainer(framework, overrides) as (_, _, trainer):
        return _measure(trainer, iterations)


def _measure(trainer: Any, iterations: int) -> dict[str, Any]:
    trainer.iterate()  # warm-up: compilation, first sample
    first = trainer.env_steps
    wall, cpu = time.perf_counter(), time.process_time()
    _timed_iterations(trainer, iterations)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    steps = trainer.env_steps - first
    return {"steps": steps, "steps_per_s": steps / wall, "cpu_us_per_step": cpu / steps * 1e6}


def _timed_iterations(trainer: Any, iterations: int) -> None:
    for _ in range(iterations):
        trainer.iterate()


def _run_setting(spec: str, args: argparse.Namespace, profile: bool, extra: list[str]) -> dict[str, Any]:
    """Run one setting in its own process (under py-spy when ``profile``); its figures."""
    name, rest = spec.split("=", 1)
    head, _, overrides = rest.partition(":")
    framework, _, tree = head.partition("@")
    code = Path(args.before_tree) if tree == "before" else ROOT
    command = [sys.executable, __file__, "--worker", framework, "--iterations", str(args.iterations)]
    command += [o for o in overrides.split(",") if o] + extra
    env = child_env(code)
    with tempfile.TemporaryDirectory(prefix="asterrl-bench-profile-") as tmp:
        raw = Path(tmp) / "stacks.txt"
        if profile:
            command = [
                args.py_spy,
                "record",
                "--format",
                "raw",
                "--rate",
                "200",
                "-o",
                str(raw),
                "--",
                *command,
            ]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode or not lines:
            raise SystemExit(f"setting {name} failed:\n{done.stderr[-3000:]}")
        result: dict[str, Any] = json.loads(lines[-1])
        if profile:
            result["profile"] = breakdown(raw.read_text())
    return result


def _load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--iterations", type=int, default=3, help="timed iterations per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="rounds over all settings")
    parser.add_argument(
        "--before-tree", default=os.environ.get("ASTERRL_BENCH_BEFORE_TREE", "/tmp/asterrl-before")
    )
    parser.add_argument("--setting", action="append", help="NAME=FRAMEWORK[@before][:k=v,...] (repeatable)")
    parser.add_argument(
        "--profile", action="store_true", help="one more round under py-spy (sampling profiler)"
    )
    parser.add_argument(
        "--py-spy", default=str(Path(sys.executable).with_name("py-spy")), help="py-spy binary"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args, overrides = parser.parse_known_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.iterations, overrides)))
        return 0
    settings = args.setting or DEFAULT_SETTINGS
    names = [spec.split("=", 1)[0] for spec in settings]
    rounds = f"{args.iterations} timed iterations x {args.repeats} rounds"
    print(f"PPO training throughput: {rounds}, {os.cpu_count()} CPUs")
    print(f"start {time.strftime('%Y-%m-%d %H:%M:%S')}, {_load()}", flush=True)
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for round_ in range(args.repeats):
        for name, spec in zip(names, settings, strict=True):
            result = _run_setting(spec, args, False, overrides)
            results[name].append(result)
            print(
                f"  round {round_ + 1} {name:<18}{result['steps_per_s']:>9,.0f} steps/s"
                f"{result['cpu_us_per_step']:>9.1f} CPU-us/step  ({_load()})",
                flush=True,
            )
    print(f"end {time.strftime('%Y-%m-%d %H:%M:%S')}, {_load()}")
    print(f"\n{'setting':<18}{'steps/s (median)':>18}{'CPU-us/step (median)':>22}")
    for name, runs in results.items():
        rate = statistics.median(r["steps_per_s"] for r in runs)
        cpu = statistics.median(r["cpu_us_per_step"] for r in runs)
        print(f"{name:<18}{rate:>18,.0f}{cpu:>22.1f}")
    if args.profile:
        print("\nWhere the CPU time per env step goes (py-spy, one more round per setting)")
        for name, spec in zip(names, settings, strict=True):
            result = _run_setting(spec, args, True, overrides)
            cpu = result["cpu_us_per_step"]
            print(f"{name}: {result['steps_per_s']:,.0f} steps/s, {cpu:.1f} CPU-us/step")
            for label, share in result["profile"].items():
                print(f"    {label:<56}{share * cpu:>7.1f} us {share:>6.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
