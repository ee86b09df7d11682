"""Benchmark: signed order round trips against the local Aster exchange on loopback.

One round trip = sign (V3 EIP-712) -> send (httpx) -> match (asterrl.sim fill) -> ack -> the order's
FILLED event on the user-data stream. The exchange runs in its own process (as it would for a client);
the client is one ``AsterClient`` with one ``UserDataStream``. Orders are 0.001 BTC market orders,
alternating buy and sell so the position stays flat.

Four client set-ups are measured in one run, in interleaved rounds so the machine's load falls on each
alike: the client's requests sent through ``httpx.AsyncClient.request`` (the client before this change) or
straight to httpx's connection pool (``RestTransport.send``, the client now), each on asyncio's default
event loop and on uvloop. For each: p50/p99 latency of sequential round trips with the client's process CPU
per order, then orders/s sustained with several orders in flight with the client's and the exchange's CPU
per order. The floors beside them: a bare unsigned ``GET /ping`` through the same pool, and the same GET
written on asyncio's streams with no HTTP library (the peer). Then the client's own steps off the network
(checks and signing, reading the acknowledgement, the user stream's three events), which with the bare GET
say where the client's CPU per order goes; last, the signing cost of eth-account's generic typed-data path
(the peer) beside ours.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/exchange.py [--rounds 4] [--orders 500]
[--seconds 3] [--inflight 16]`` (per round and set-up).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import uvloop
from exchange_parts import KEY, USER, client_parts, signing_peer

H = 3_600_000
UNLIMITED = 10**9


def serve() -> None:
    """The exchange process: BTCUSDT hourly bars around now, one funded user; prints its port."""
    from asterrl.exchange.local import LocalAsterServer, MarketDataBook, SymbolSpec
    from asterrl.exchange.signing import address_of

    now = int(time.time() * 1000)
    first = (now // H - 20) * H
    k = np.arange(60, dtype=np.float64)
    opens = np.full(60, 30_000.0)
    bars = pd.DataFrame({"timestamp": first + H * np.arange(60, dtype=np.int64), "open": opens,
                         "high": opens + 50.0, "low": opens - 50.0, "close": opens + 0.0 * k,
                         "volume": 1e9, "quote_volume": 3e13})  # fmt: skip
    book = MarketDataBook()
    book.add_symbol(SymbolSpec("BTCUSDT", "BTC"))
    book.add_bars("BTCUSDT", "1h", bars)
    server = LocalAsterServer(book, weight_limit=UNLIMITED, order_limit=UNLIMITED)
    server.open_market("BTCUSDT", "1h")
    server.add_user(USER, 1e9, signers=[address_of(KEY)])
    server.start()
    print(server.port, flush=True)
    try:
        sys.stdin.read()  # until the benchmark closes our stdin
    finally:
        server.stop()


def through_async_client(rest: Any) -> None:
    """Send ``rest``'s requests through ``httpx.AsyncClient.request`` on the same pool (the client before
    this change), in place of ``RestTransport.send``."""
    http = httpx.AsyncClient(base_url=rest.config.base_url, transport=rest.pool,
                             timeout=httpx.Timeout(rest.config.timeout_s),
                             headers={"Accept": "application/json", "User-Agent": "asterrl"})  # fmt: skip

    async def send(method: str, path: str, text: str, headers: dict[str, str]) -> httpx.Response:
        if method in ("GET", "DELETE"):
            return await http.request(method, f"{path}?{text}" if text else path, headers=headers)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return await http.request(method, path, content=text.encode(), headers=headers)

    rest.send = send


class RoundTrips:
    """Places orders and waits for each one's FILLED event on the user-data stream."""

    def __init__(self, port: int, async_client: bool) -> None:
        from asterrl.exchange.client import AsterClient
        from asterrl.exchange.rate_limits import RateLimits
        from asterrl.exchange.rest import ClientConfig, V3Credentials

        base = f"http://127.0.0.1:{port}"
        limits = RateLimits(weight_limit=UNLIMITED, order_limit=UNLIMITED)
        self.client = AsterClient(
            ClientConfig(base, max_connections=64), V3Credentials(USER, KEY), limits=limits
        )
        if async_client:
            through_async_client(self.client.rest)
        self.ws = f"ws://127.0.0.1:{port}"
        self.waiting: dict[str, asyncio.Future[None]] = {}
        self.side = 0
        #: The raw user-stream messages of the last order (NEW, TRADE, ACCOUNT_UPDATE), as received.
        self.messages: list[str] = []

    async def start(self) -> None:
        from asterrl.exchange.user_stream import UserDataStream

        await self.client.sync_time()
        await self.client.load_instruments()
        self.stream = UserDataStream(self.client, self.ws, self._event)
        await self.stream.start()

    def _event(self, event: dict[str, Any]) -> None:
        if event.get("o", {}).get("X") == "NEW":
            self.messages = []
        self.messages.append(str(self.stream.connection.last_raw))
        if event.get("e") == "ORDER_TRADE_UPDATE" and event["o"]["X"] == "FILLED":
            future = self.waiting.pop(event["o"]["c"], None)
            if future is not None and not future.done():
                future.set_result(None)

    async def one(self) -> float:
        """Seconds from signing to the FILLED event."""
        from asterrl.exchange.models import OrderRequest

        self.side ^= 1
        cid = self.client.next_client_order_id()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting[cid] = done
        started = time.perf_counter()
        req = OrderRequest(
            "BTCUSDT", "BUY" if self.side else "SELL", "MARKET", Decimal("0.001"), client_order_id=cid
        )
        await self.client.new_order(req, result=False)
        async with asyncio.timeout(10.0):
            await done
        return time.perf_counter() - started

    async def close(self) -> None:
        await self.stream.stop()
        await self.client.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by process ``pid`` (10 ms ticks; ``time.process_time`` for
    this process)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


#: Operations per slice of a CPU measurement; a slice's CPU per operation is one sample.
SLICE = 50


class Tally:
    """One set-up's figures over every round: latencies, CPU per operation by slice, in-flight totals.

    Other work on the machine inflates CPU time (caches, shared cores) by different amounts from one moment
    to the next, so CPU per operation is sampled in slices of ``SLICE``: the median says what it cost, the
    smallest slice how close to the undisturbed cost it gets.
    """

    def __init__(self) -> None:
        self.latencies_ms: list[float] = []
        self.ping_ms: list[float] = []
        self.slices: dict[str, list[float]] = {"trip": [], "ping": [], "raw": []}
        self.in_flight = dict.fromkeys(("done", "elapsed", "client", "server"), 0.0)
        self.messages: list[str] = []

    async def sample(self, kind: str, op: Callable[[], Coroutine[Any, Any, float]], n: int) -> None:
        """Run ``op`` ``n`` times in slices, keeping its wall times (ms) and each slice's CPU per call."""
        times = self.latencies_ms if kind == "trip" else self.ping_ms if kind == "ping" else []
        for _ in range(max(1, n // SLICE)):
            cpu = time.process_time()
            times += [await op() * 1000.0 for _ in range(SLICE)]
            self.slices[kind].append((time.process_time() - cpu) / SLICE * 1e6)

    def summary(self) -> dict[str, float]:
        ms, f = sorted(self.latencies_ms), self.in_flight
        trip, ping = self.slices["trip"], self.slices["ping"]
        return {
            "p50_ms": statistics.median(ms),
            "p99_ms": ms[int(0.99 * (len(ms) - 1))],
            "mean_ms": statistics.fmean(ms),
            "trip_cpu_us": statistics.median(trip),
            "trip_cpu_min_us": min(trip),
            "throughput_per_s": f["done"] / f["elapsed"],
            "client_cpu_us": f["client"] / max(f["done"], 1) * 1e6,
            "server_cpu_us": f["server"] / max(f["done"], 1) * 1e6,
            "ping_p50_ms": statistics.median(self.ping_ms),
            "ping_cpu_us": statistics.median(ping),
            "ping_cpu_min_us": min(ping),
            "raw_cpu_min_us": min(self.slices["raw"]),
        }


async def session(
    port: int, server_pid: int, args: argparse.Namespace, async_client: bool, tally: Tally
) -> None:
    """One round of one set-up: warm up, sequential round trips, in-flight throughput, bare pings."""
    trips = RoundTrips(port, async_client)
    await trips.start()
    for _ in range(100):  # warm up (numba dispatch, connections)
        await trips.one()
    await tally.sample("trip", trips.one, args.orders)
    done = 0
    stop_at = time.perf_counter() + args.seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < stop_at:
            await trips.one()
            done += 1

    started = time.perf_counter()
    cpu_client, cpu_server = time.process_time(), cpu_seconds(server_pid)
    await asyncio.gather(*(worker() for _ in range(args.inflight)))
    tally.in_flight["elapsed"] += time.perf_counter() - started
    tally.in_flight["client"] += time.process_time() - cpu_client
    tally.in_flight["server"] += cpu_seconds(server_pid) - cpu_server
    tally.in_flight["done"] += done

    async def ping() -> float:
        begun = time.perf_counter()
        await trips.client.rest.call("GET", "ping")
        return time.perf_counter() - begun

    await tally.sample("ping", ping, 200)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET /fapi/v1/ping HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()

    async def raw_ping() -> float:  # the same request on asyncio's streams, no HTTP library: the peer
        begun = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length"))  # fmt: skip
        await reader.readexactly(length)
        return time.perf_counter() - begun

    await tally.sample("raw", raw_ping, 200)
    writer.close()
    tally.messages = trips.messages
    await trips.close()


#: Set-ups: (name, requests through httpx.AsyncClient, event-loop runner).
SETUPS: list[tuple[str, bool, Callable[[Coroutine[Any, Any, None]], None]]] = [
    ("AsyncClient.request, asyncio (before)", True, asyncio.run),
    ("pool, asyncio (now)", False, asyncio.run),
    ("AsyncClient.request, uvloop", True, uvloop.run),
    ("pool, uvloop (now)", False, uvloop.run),
]


def measure(port: int, server_pid: int, args: argparse.Namespace, tallies: dict[str, Tally]) -> None:
    for round_ in range(args.rounds):
        order = SETUPS[round_ % len(SETUPS) :] + SETUPS[: round_ % len(SETUPS)]  # rotate who goes first
        for name, async_client, runner in order:
            runner(session(port, server_pid, args, async_client, tallies[name]))


def report(args: argparse.Namespace, results: dict[str, dict[str, float]], parts: dict[str, float],
           signing: tuple[float, float], load_before: str) -> None:  # fmt: skip
    print(f"python {platform.python_version()}, {os.cpu_count()} cores")
    print(f"uptime before: {load_before}")
    print(f"uptime after:  {os.popen('uptime').read().strip()}")
    print(
        f"signed round trips (sign -> send -> fill -> ack -> FILLED event): {args.rounds} interleaved rounds "
        f"per set-up of {args.orders} sequential, then {args.seconds:g} s with {args.inflight} in flight"
    )
    head = (
        "p50",
        "p99",
        "mean",
        "cpu",
        "cpu min",
        "ord/s",
        "cpu",
        "exch",
        "ping",
        "cpu",
        "cpu min",
        "raw min",
    )
    print(f"{'':38s} {'sequential round trips':^38s} {'in flight':^22s} {'bare GET /ping':^30s}")
    print(f"{'set-up':38s} " + " ".join(f"{h:>7s}" for h in head))
    keys = ("p50_ms", "p99_ms", "mean_ms", "trip_cpu_us", "trip_cpu_min_us", "throughput_per_s",
            "client_cpu_us", "server_cpu_us", "ping_p50_ms", "ping_cpu_us", "ping_cpu_min_us",
            "raw_cpu_min_us")  # fmt: skip
    for name, f in results.items():
        print(f"{name:38s} " + " ".join(f"{f[k]:7.0f}" if "us" in k or "per_s" in k else f"{f[k]:7.2f}"
                                        for k in keys))  # fmt: skip
    print("  wall times in ms; CPU in us of process CPU per order (or request): the client's, median and")
    print("  fastest slice of 50 (sequential, ping), and the client's and the exchange's in flight; raw: the")
    print("  same GET written and read on asyncio's streams without an HTTP library (fastest slice)")
    now = [f for name, f in results.items() if name.endswith("(now)")]
    best = {key: min(f[key] for f in now) for key in now[0]}
    best["throughput_per_s"] = max(f["throughput_per_s"] for f in now)
    rest = best["trip_cpu_min_us"] - best["ping_cpu_min_us"] - sum(parts.values())
    print(
        f"  client CPU floor per order, fastest slices of the client now: {best['trip_cpu_min_us']:.0f} us ="
        f" bare GET through httpx's pool {best['ping_cpu_min_us']:.0f} + checks and signing"
        f" {parts['entry']:.0f} + reading the ack {parts['answer']:.0f} + the user stream's three events"
        f" {parts['user_stream']:.0f} + the rest {rest:.0f} (a POST with a body beyond a bare GET, WebSocket"
        " frames, event-loop wake-ups)"
    )
    met_latency = "met" if best["p99_ms"] < 5 else "NOT met"
    met_rate = "met" if best["throughput_per_s"] > 1000 else "NOT met"
    print(f"  goal (client now): p99 < 5 ms {met_latency}, > 1000 orders/s {met_rate}")
    print(
        f"signing one order: asterrl {signing[0]:.0f} us; "
        f"eth-account encode_typed_data + sign_message {signing[1]:.0f} us"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds of every set-up")
    parser.add_argument("--orders", type=int, default=500, help="sequential round trips per round")
    parser.add_argument("--seconds", type=float, default=3.0, help="in-flight run per round, seconds")
    parser.add_argument("--inflight", type=int, default=16, help="orders in flight in the throughput run")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    load_before = os.popen("uptime").read().strip()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    command = [sys.executable, __file__, "--serve"]
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        tallies = {name: Tally() for name, _, _ in SETUPS}
        measure(port, proc.pid, args, tallies)
        results = {name: tally.summary() for name, tally in tallies.items()}
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.wait(30)
    messages = next(t.messages for t in tallies.values() if t.messages)
    report(args, results, asyncio.run(client_parts(messages)), signing_peer(), load_before)


if __name__ == "__main__":
    main()
