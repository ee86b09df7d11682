"""Environment throughput: AsterPerpEnv and the batched vector env against gym-anytrading and gym-trading-env.

All three run on the shared BTCUSDT perp 1h data with a 32-bar x 16-feature observation, in the same run.
The peers are run from a separate interpreter (``--peer-python``, default ``/tmp/peers/bin/python`` or
``$ASTERRL_BENCH_PEER_PYTHON``) holding ``gym-anytrading==2.0.0`` and ``gym-trading-env==0.3.5``, because
they pull in packages outside the project's pinned set. A peer that cannot run is reported as such.

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=2 .venv/bin/python benchmarks/env.py [--seconds 2] [--repeats 3]

Every figure is the best of ``--repeats`` timed windows of ``--seconds`` each (the box may be shared: the
load average is printed before and after). ``--hogs K`` runs K busy-loop processes for the whole
measurement (peers included) to show the behaviour when cores are taken; they are stopped at the end.
The single env is timed unwrapped (``AsterPerpEnv(...)``, not ``gymnasium.make``, whose checker and
order-enforcing wrappers add their own per-step cost; the peers are timed unwrapped too).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from asterrl.features.matrix import FeatureMatrix  # noqa: E402
from asterrl.observation import builtin_features  # noqa: E402
from asterrl.risk import RiskLimits  # noqa: E402
from envs import AsterPerpEnv, AsterPerpVectorEnv  # noqa: E402

SHARED = Path(os.environ.get("ASTERRL_SHARED_DATA", ROOT / ".." / "shared" / "data"))
WINDOW = 32
SPLITS = {"train": ["2019-09-01", "2023-12-31"]}


def load() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, FeatureMatrix]:
    """Bars, funding, mark and a 16-column feature matrix (6 built-ins + 10 multi-horizon log returns)."""
    bars = pd.read_csv(SHARED / "perp_ohlcv" / "BTCUSDT_1h.csv.gz")
    funding = pd.read_csv(SHARED / "perp_funding" / "BTCUSDT_funding.csv.gz")
    mark = pd.read_csv(SHARED / "perp_mark" / "BTCUSDT_mark_1h.csv.gz")
    base = builtin_features(bars)
    log_close = np.log(bars["close"].to_numpy())
    extra = []
    for h in (2, 3, 4, 6, 8, 12, 24, 48, 96, 168):
        r = np.full(log_close.shape, np.nan)
        r[h:] = (log_close[h:] - log_close[:-h]) * 100.0
        extra.append(r)
    values = np.column_stack([base.values, np.column_stack(extra)]).astype(np.float32)
    names = base.columns + tuple(f"log_return_{h}" for h in (2, 3, 4, 6, 8, 12, 24, 48, 96, 168))
    return bars, funding, mark, FeatureMatrix(values, names)


#: The clock every window is timed with: ``perf_counter`` (wall), or ``process_time`` (``--clock cpu``: CPU
#: seconds of this process, which other processes' load on a shared box does not inflate as much).
CLOCK: Any = time.perf_counter


def best_of(repeats: int, measure: Any) -> float:
    """Highest rate over ``repeats`` calls of ``measure()``."""
    return max(measure() for _ in range(repeats))


def bench_single(kwargs: dict[str, Any], seconds: float) -> float:
    env = AsterPerpEnv(**kwargs)
    actions = np.random.default_rng(0).integers(0, 5, 1 << 16).tolist()
    env.reset(seed=0)
    for a in actions[:2000]:  # warm-up (compilation is cached, this warms the caches)
        if any(env.step(a)[2:4]):
            env.reset()
    steps, start = 0, CLOCK()
    while CLOCK() - start < seconds:
        for a in actions[:10_000]:
            _, _, term, trunc, _ = env.step(a)
            if term or trunc:
                env.reset()
        steps += 10_000
    return steps / (CLOCK() - start)


def bench_vector(kwargs: dict[str, Any], n: int, seconds: float) -> float:
    env = AsterPerpVectorEnv(n, **kwargs)
    pool = np.random.default_rng(0).integers(0, 5, (64, n)).astype(np.float64)
    env.reset(seed=0)
    for j in range(20):
        env.step(pool[j % 64])
    steps, start = 0, CLOCK()
    while CLOCK() - start < seconds:
        for j in range(64):
            env.step(pool[j])
        steps += 64 * n
    return steps / (CLOCK() - start)


PEER_SCRIPT = r"""
import json, sys, time
import numpy as np, pandas as pd
import gymnasium as gym
frame = pd.read_pickle(sys.argv[1]); seconds = float(sys.argv[2]); window = int(sys.argv[3])
repeats = int(sys.argv[4])
clock = time.process_time if sys.argv[5] == "cpu" else time.perf_counter
features = [c for c in frame.columns if c.startswith("feature_")]
out = {}
def run(env, n_actions):
    return max(run_once(env, n_actions) for _ in range(repeats))
def run_once(env, n_actions):
    actions = np.random.default_rng(0).integers(0, n_actions, 1 << 16).tolist()
    env.reset(seed=0)
    steps, start = 0, clock()
    while clock() - start < seconds:
        for a in actions[:10000]:
            _, _, term, trunc, _ = env.step(a)
            if term or trunc:
                env.reset()
        steps += 10000
    return steps / (clock() - start)
try:
    from gym_anytrading.envs import StocksEnv
    class Features16(StocksEnv):
        def _process_data(self):
            start, end = self.frame_bound[0] - self.window_size, self.frame_bound[1]
            prices = self.df.loc[:, "Close"].to_numpy()[start:end]
            return prices, self.df.loc[:, features].to_numpy(np.float32)[start:end]
    df = frame.rename(columns={"close": "Close"})
    env = Features16(df=df, window_size=window, frame_bound=(window, len(df)))
    out["gym-anytrading"] = run(env, 2)
    out["gym-anytrading obs"] = list(env.observation_space.shape)
except Exception as error:
    out["gym-anytrading error"] = repr(error)
try:
    from gym_trading_env.environments import TradingEnv
    df = frame.set_index(pd.to_datetime(frame["timestamp"], unit="ms"))
    env = TradingEnv(df=df, positions=[-1, -0.5, 0, 0.5, 1], windows=window, trading_fees=0.00035,
                     borrow_interest_rate=0.0, verbose=0)
    out["gym-trading-env"] = run(env, 5)
    out["gym-trading-env obs"] = list(env.observation_space.shape)
except Exception as error:
    out["gym-trading-env error"] = repr(error)
print(json.dumps(out))
"""


def bench_peers(
    python: str, bars: pd.DataFrame, features: FeatureMatrix, seconds: float, repeats: int, clock: str
) -> dict[str, Any]:
    if not Path(python).exists():
        return {"error": f"peer interpreter {python} not found (create it: see the module docstring)"}
    frame = bars[["timestamp", "open", "high", "low", "close", "volume"]].copy()
    for j, name in enumerate(features.columns):
        frame[f"feature_{name}"] = np.nan_to_num(features.values[:, j])
    frame = frame.iloc[200:].reset_index(drop=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bars.pkl"
        frame.to_pickle(path)
        done = subprocess.run(
            [python, "-c", PEER_SCRIPT, str(path), str(seconds), str(WINDOW), str(repeats), clock],
            capture_output=True,
            text=True,
            timeout=600,
        )
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "peer run failed"}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0, help="timed seconds per measurement")
    parser.add_argument(
        "--peer-python", default=os.environ.get("ASTERRL_BENCH_PEER_PYTHON", "/tmp/peers/bin/python")
    )
    parser.add_argument("--sizes", default="1,64,1024,4096")
    parser.add_argument("--repeats", type=int, default=3, help="timed windows per figure; the best is shown")
    parser.add_argument("--hogs", type=int, default=0, help="busy-loop processes run meanwhile")
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="time windows by wall clock, or by this process's CPU seconds (a shared, loaded box)",
    )
    args = parser.parse_args()
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.hogs)]
    try:
        run(args)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def run(args: argparse.Namespace) -> None:
    """Load the data, time every env and peer, print the figures."""
    bars, funding, mark, features = load()
    kwargs: dict[str, Any] = {
        "data": bars,
        "funding": funding,
        "mark": mark,
        "instrument": "BTCUSDT",
        "features": features,
        "window": WINDOW,
        "splits": SPLITS,
        "episode_length": 720,
        "risk": RiskLimits(max_drawdown=0.9, max_daily_loss=0.9),
    }
    print(
        f"data: BTCUSDT perp 1h, {len(bars)} bars; observation {WINDOW} x {len(features.columns)} + 7 account"
    )
    print(
        f"threads: NUMBA_NUM_THREADS={os.environ.get('NUMBA_NUM_THREADS', 'default')}, cpus={os.cpu_count()}"
    )
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    print(
        f"best of {args.repeats} windows of {args.seconds:g} s each ({args.clock} clock); "
        f"background hogs: {args.hogs}"
    )
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    single = best_of(args.repeats, lambda: bench_single(kwargs, args.seconds))
    print(f"AsterPerpEnv (single, unwrapped)   {single:>14,.0f} steps/s")
    for n in (int(s) for s in args.sizes.split(",")):
        rate = best_of(args.repeats, lambda: bench_vector(kwargs, n, args.seconds))  # noqa: B023
        print(f"AsterPerpVectorEnv N={n:<5}          {rate:>14,.0f} env-steps/s")
    peers = bench_peers(args.peer_python, bars, features, args.seconds, args.repeats, args.clock)
    for key, value in peers.items():
        if isinstance(value, float):
            print(f"{key:<35}{value:>14,.0f} steps/s")
        else:
            print(f"{key:<35}{value}")
    print("load average after:  {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
