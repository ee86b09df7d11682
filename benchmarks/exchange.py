"""Benchmark: signed order round trips against the local Aster exchange on loopback.

One round trip = sign (V3 EIP-712) -> send (httpx) -> match (asterrl.sim fill) -> ack -> the order's
FILLED event on the user-data stream. The exchange runs in its own process (as it would for a client);
the client is one ``AsterClient`` with one ``UserDataStream``. Orders are 0.001 BTC market orders,
alternating buy and sell so the position stays flat. Prints p50/p99 latency of sequential round trips,
orders/s sustained by one client with several orders in flight, and the signing cost of eth-account's
generic typed-data path (the peer) beside ours.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/exchange.py [--orders 2000] [--seconds 10]
[--inflight 16]``. The floor beside the figures: a bare unsigned ``GET /ping`` through the same httpx pool
to the same exchange, measured in the same run.
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
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

H = 3_600_000
KEY = "0x4fd0a42218f3eae43a6ce26d22544e986139a01e5b34a62db53757ffca81bae1"
USER = "0x63DD5aCC6b1aa0f563956C0e534DD30B6dcF7C4e"
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


class RoundTrips:
    """Places orders and waits for each one's FILLED event on the user-data stream."""

    def __init__(self, port: int) -> None:
        from asterrl.exchange.client import AsterClient
        from asterrl.exchange.rate_limits import RateLimits
        from asterrl.exchange.rest import ClientConfig, V3Credentials

        base = f"http://127.0.0.1:{port}"
        limits = RateLimits(weight_limit=UNLIMITED, order_limit=UNLIMITED)
        self.client = AsterClient(
            ClientConfig(base, max_connections=64), V3Credentials(USER, KEY), limits=limits
        )
        self.ws = f"ws://127.0.0.1:{port}"
        self.waiting: dict[str, asyncio.Future[None]] = {}
        self.side = 0

    async def start(self) -> None:
        from asterrl.exchange.user_stream import UserDataStream

        await self.client.sync_time()
        await self.client.load_instruments()
        self.stream = UserDataStream(self.client, self.ws, self._event)
        await self.stream.start()

    def _event(self, event: dict[str, Any]) -> None:
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
        await asyncio.wait_for(done, 10.0)
        return time.perf_counter() - started

    async def close(self) -> None:
        await self.stream.stop()
        await self.client.close()


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU seconds used so far by process ``pid`` (this one if ``None``)."""
    fields = Path(f"/proc/{pid or os.getpid()}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(port: int, server_pid: int, orders: int, seconds: float, inflight: int) -> dict[str, float]:
    trips = RoundTrips(port)
    await trips.start()
    for _ in range(200):  # warm up (numba dispatch, connections)
        await trips.one()
    latencies = [await trips.one() for _ in range(orders)]
    done = 0
    stop_at = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < stop_at:
            await trips.one()
            done += 1

    started = time.perf_counter()
    cpu_client, cpu_server = cpu_seconds(), cpu_seconds(server_pid)
    await asyncio.gather(*(worker() for _ in range(inflight)))
    elapsed = time.perf_counter() - started
    cpu_client, cpu_server = cpu_seconds() - cpu_client, cpu_seconds(server_pid) - cpu_server
    pings = []
    ping_cpu = cpu_seconds()
    for _ in range(500):
        begun = time.perf_counter()
        await trips.client.rest.call("GET", "ping")
        pings.append((time.perf_counter() - begun) * 1000.0)
    ping_cpu = (cpu_seconds() - ping_cpu) / len(pings) * 1e6
    await trips.close()
    ms = sorted(x * 1000.0 for x in latencies)
    return {
        "p50_ms": statistics.median(ms),
        "p99_ms": ms[int(0.99 * (len(ms) - 1))],
        "mean_ms": statistics.fmean(ms),
        "sequential_per_s": len(ms) / (sum(ms) / 1000.0),
        "throughput_per_s": done / elapsed,
        "client_cpu_us": cpu_client / max(done, 1) * 1e6,
        "server_cpu_us": cpu_server / max(done, 1) * 1e6,
        "ping_p50_ms": statistics.median(pings),
        "ping_cpu_us": ping_cpu,
    }


def signing_peer(n: int = 2000) -> tuple[float, float]:
    """µs per signature: asterrl's fixed-type EIP-712 over libsecp256k1 vs eth-account's generic path."""
    from eth_account import Account
    from eth_account.messages import encode_typed_data

    from asterrl.exchange.signing import V3Signer

    msg = (
        "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&nonce=1748310859508867&user=0x63DD&signer=0x21cF"
    )
    signer = V3Signer(KEY)
    started = time.perf_counter()
    for _ in range(n):
        signer.sign(msg)
    ours = (time.perf_counter() - started) / n * 1e6
    typed = {
        "types": {"EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                                   {"name": "chainId", "type": "uint256"},
                                   {"name": "verifyingContract", "type": "address"}],
                  "Message": [{"name": "msg", "type": "string"}]},
        "primaryType": "Message",
        "domain": {"name": "AsterSignTransaction", "version": "1", "chainId": 1666,
                   "verifyingContract": "0x0000000000000000000000000000000000000000"},
        "message": {"msg": msg},
    }  # fmt: skip
    started = time.perf_counter()
    for _ in range(n // 4):
        Account.sign_message(encode_typed_data(full_message=typed), KEY)
    peer = (time.perf_counter() - started) / (n // 4) * 1e6
    return ours, peer


def report(args: argparse.Namespace, figures: dict[str, float], ours: float, peer: float) -> None:
    load = os.popen("uptime").read().strip()
    print(f"python {platform.python_version()}, {os.cpu_count()} cores; uptime: {load}")
    print(f"signed round trips (sign -> send -> fill -> ack -> FILLED event), {args.orders} sequential:")
    print(
        f"  p50 {figures['p50_ms']:.2f} ms  p99 {figures['p99_ms']:.2f} ms  mean {figures['mean_ms']:.2f} ms"
        f"  ({figures['sequential_per_s']:.0f} orders/s one at a time)"
    )
    print(
        f"  sustained by one client, {args.inflight} in flight for {args.seconds:g} s: "
        f"{figures['throughput_per_s']:.0f} orders/s"
    )
    print(
        f"  CPU per order: client {figures['client_cpu_us']:.0f} us, "
        f"exchange {figures['server_cpu_us']:.0f} us"
    )
    print(
        f"  floor, bare GET /ping in the same pool: p50 {figures['ping_p50_ms']:.2f} ms, "
        f"client CPU {figures['ping_cpu_us']:.0f} us per request"
    )
    met_latency = "met" if figures["p99_ms"] < 5 else "NOT met"
    met_rate = "met" if figures["throughput_per_s"] > 1000 else "NOT met"
    print(f"  goal: p99 < 5 ms {met_latency}, > 1000 orders/s {met_rate}")
    print(
        f"signing one order: asterrl {ours:.0f} us; "
        f"eth-account encode_typed_data + sign_message {peer:.0f} us"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=2000, help="sequential round trips for the latency")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the throughput run")
    parser.add_argument("--inflight", type=int, default=16, help="orders in flight in the throughput run")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    command = [sys.executable, __file__, "--serve"]
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        figures = asyncio.run(measure(port, proc.pid, args.orders, args.seconds, args.inflight))
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.wait(30)
    report(args, figures, *signing_peer())


if __name__ == "__main__":
    main()
