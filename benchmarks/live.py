"""Bridge latency: a closed bar in hand to the order on the wire, over a replayed year, without the network.

The real bridge (``asterrl.live.bridge.Bridge``) trades a frozen policy on the local exchange in this
process, bar after bar of a replayed year of the shared BTCUSDT perp 1h data (2023), with market orders.
For every decision the clock starts once the bar's data and the account are in hand (after the REST
reads, which are network) and stops when the order's HTTP request is handed to the client's ``httpx``
connection pool (a hook on the pool): the features, the observation, the policy network, the action rule,
the risk gate, the planner, the write-ahead intent in SQLite, the client's checks and the V3 signature. The
order's round trip and every read before the decision are the network and are left out. The policy trades
on most bars (it goes long after a rising bar and short after a falling one), so most bars send an order.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/live.py [--bars 8760] [--history 1000] [--synthetic]

Prints p50, p90, p99 and the maximum of the decision-to-wire latency (bars that sent an order; wall clock,
and the bridge thread's CPU time over the same span, which the load of a shared box cannot inflate) and of
the decision alone (every bar), with ``uptime`` before and after. Goal: p99 under 5 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.envs.market import synthetic_market  # noqa: E402
from tests.live.artifacts import linear_artifact  # noqa: E402
from tests.live.paper import paper  # noqa: E402

SHARED = Path(os.environ.get("ASTERRL_SHARED_DATA", ROOT / ".." / "shared" / "data"))


def year_of_bars(bars: int, history: int, synthetic: bool) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The last ``history + bars + 1`` bars of the shared BTCUSDT perp (or a synthetic market)."""
    if synthetic or not (SHARED / "perp_ohlcv" / "BTCUSDT_1h.csv.gz").exists():
        return synthetic_market(history + bars + 2, seed=1)
    from asterrl.data.io import read_table

    whole = [read_table(SHARED / name, kind)[0] for name, kind in (
        ("perp_ohlcv/BTCUSDT_1h.csv.gz", "ohlcv"), ("perp_funding/BTCUSDT_funding.csv.gz", "funding"),
        ("perp_mark/BTCUSDT_mark_1h.csv.gz", "mark"))]  # fmt: skip
    data = whole[0].iloc[-(history + bars + 2) :].reset_index(drop=True)
    first = int(data["timestamp"].iloc[0])
    return data, whole[1][whole[1]["timestamp"] > first], whole[2][whole[2]["timestamp"] >= first]


async def measure(
    workdir: Path, bars: int, history: int, synthetic: bool
) -> tuple[list[float], list[float], list[float]]:
    """Replay ``bars`` bars; returns the decision-to-wire ms of bars that sent orders (wall clock and the
    bridge thread's CPU time) and the decision ms of every bar."""
    frames = year_of_bars(bars, history, synthetic)
    art = linear_artifact(workdir / "artifact", window=32, momentum=True)
    wire: list[float] = []
    wire_cpu: list[float] = []  # the same span in the bridge thread's CPU time (what load cannot inflate)
    decide: list[float] = []
    # a year of trading on most bars: no loss limit may halt it
    settings = (f"history_bars={history}", "streams=false", "risk.max_leverage=1", "risk.max_drawdown=.inf",
                "risk.max_daily_loss=.inf")  # fmt: skip
    async with paper(workdir, art, *frames, history + 1, *settings, balance=1_000_000.0) as p:
        pending: dict[str, float] = {}

        pool = p.client.rest.pool  # every request goes through this httpx pool: the hook marks the wire
        hand_over = pool.handle_async_request

        async def on_request(request: httpx.Request) -> httpx.Response:
            first = "sent" not in pending  # the bar's first order
            if first and request.method == "POST" and request.url.path.endswith("/order"):
                pending["sent"], pending["sent_cpu"] = time.perf_counter(), time.thread_time()
            return await hand_over(request)

        pool.handle_async_request = on_request  # type: ignore[method-assign]
        for i in range(bars):
            pending.clear()
            decided = await (p.next_bar() if i else p.settle_first())
            if not decided:
                continue
            record = p.bridge.store.last_decision()
            decide.append(record["latency_us"] / 1000.0)
            started, started_cpu = p.bridge.decision_started, p.bridge.decision_started_cpu
            if "sent" in pending and started is not None and started_cpu is not None:
                wire.append((pending["sent"] - started) * 1000.0)
                wire_cpu.append((pending["sent_cpu"] - started_cpu) * 1000.0)
            if (i + 1) % 1000 == 0:  # progress, and the figures so far
                load = os.getloadavg()[0]
                print(f"{i + 1} bars, load {load:.1f}: " + _summary("to the wire", wire) + "; "
                      + _summary("CPU", wire_cpu), flush=True)  # fmt: skip
    return wire, wire_cpu, decide


def _summary(name: str, values: list[float]) -> str:
    if not values:
        return f"{name}: no samples"
    q = np.percentile(np.asarray(values), [50, 90, 99])
    return (f"{name}: n={len(values)}  p50 {q[0]:.2f} ms  p90 {q[1]:.2f} ms  p99 {q[2]:.2f} ms  "
            f"max {max(values):.2f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bars", type=int, default=8760)
    parser.add_argument("--history", type=int, default=1000)
    parser.add_argument(
        "--synthetic", action="store_true", help="a synthetic market instead of the shared data"
    )
    args = parser.parse_args()
    print("uptime before:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    workdir = Path(tempfile.mkdtemp(prefix="asterrl-live-bench-"))
    started = time.monotonic()
    try:
        wire, wire_cpu, decide = asyncio.run(measure(workdir, args.bars, args.history, args.synthetic))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(_summary("bar close -> order on the wire (no network)", wire))
    print(_summary("the same, CPU time of the bridge thread", wire_cpu))
    print(_summary("decision only (features, observation, policy, gate, plan)", decide))
    print(f"replayed {args.bars} bars in {time.monotonic() - started:.0f} s; goal p99 < 5 ms: "
          f"{'met' if wire and np.percentile(wire, 99) < 5.0 else 'not met'}")  # fmt: skip
    print("uptime after:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
