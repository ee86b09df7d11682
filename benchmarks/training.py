"""PPO training throughput (env steps per second of wall time, sampling and updates together).

RLlib PPO with 0, 1 and 2 env runners and 1 and 8 envs per runner (the numba vector env), and SB3 PPO on the
same env with 1 and 8 envs, all with the same network, batch and epochs, measured in this run.

    OMP_NUM_THREADS=1 python benchmarks/training.py [--iterations 3] [--batch 2048] [key=value ...]

Overrides go to the config (default: the synthetic market, so that no data is needed).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

from experiments.config import load_config
from experiments.training.environment import build_env_core, prepare_market
from experiments.training.ray_session import ray_session
from experiments.training.trainers import RLlibTrainer, SB3Trainer


def _measure(trainer: RLlibTrainer | SB3Trainer, iterations: int, batch: int) -> float:
    trainer.iterate()  # warm-up: compilation, first sample
    start = time.perf_counter()
    for _ in range(iterations):
        trainer.iterate()
    elapsed = time.perf_counter() - start
    trainer.close()
    return iterations * batch / elapsed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--iterations", type=int, default=3, help="timed iterations per setting")
    parser.add_argument("--batch", type=int, default=2048, help="env steps per iteration")
    args, overrides = parser.parse_known_args(argv)
    cfg = load_config(["data=synthetic", "agent=ppo", f"agent.train_batch_size={args.batch}", *overrides])
    market = prepare_market(cfg, show_progress=False)
    print(
        f"PPO env steps/s ({args.iterations} iterations of {args.batch} steps, net {cfg.agent.hidden_sizes}, "
        f"{cfg.agent.num_epochs} epochs, minibatch {cfg.agent.minibatch_size}, {os.cpu_count()} CPUs)"
    )
    print(f"{'framework':<10}{'runners':>8}{'envs/runner':>13}{'steps/s':>10}")
    rows: list[tuple[str, int, int, float]] = []
    with tempfile.TemporaryDirectory(prefix="asterrl-bench-") as tmp, ray_session(cfg.ray, Path(tmp)):
        core = build_env_core(cfg, market, "train", autoreset_mode="next_step")
        for runners in (0, 1, 2):
            for envs in (1, 8):
                agent = cfg.agent
                agent.num_env_runners, agent.num_envs_per_env_runner = runners, envs
                rate = _measure(RLlibTrainer(agent, core, cfg.seed), args.iterations, args.batch)
                rows.append(("rllib", runners, envs, rate))
                print(f"{'rllib':<10}{runners:>8}{envs:>13}{rate:>10.0f}", flush=True)
    sb3_core = build_env_core(cfg, market, "train", autoreset_mode="same_step")
    for envs in (1, 8):
        cfg.agent.num_envs_per_env_runner = envs
        rate = _measure(SB3Trainer(cfg.agent, sb3_core, cfg.seed), args.iterations, args.batch)
        print(f"{'sb3':<10}{'-':>8}{envs:>13}{rate:>10.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
