"""Fault campaign: ``asterrl deploy`` in paper mode on the local exchange while faults are injected.

A real bridge process trades a frozen policy bar by bar (the exchange's clock moves one bar at a time once
the bridge has settled the previous one) while the exchange drops, delays and fails responses (5xx, 503
with the order accepted, 429, 418), drops and stalls its WebSocket streams, duplicates and reorders user
events, skews its clock, and while the bridge is kill -9'd with an order in flight and restarted. After
every bar the campaign checks that no client order id reached the exchange twice and that the state store
holds the exchange's position; at the end, that no fill took the position beyond the risk limits, and how
many of the faults show in the bridge's JSON log. Prints the counts per fault type.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/live_faults.py [--bars 336] [--faults-per-bar 3.2]
        [--kill-every 40] [--seed 0] [--workdir DIR] [--minutes M] [--nonce-window-ms 10000]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from asterrl.exchange.local import Fault, LocalAsterServer  # noqa: E402
from asterrl.exchange.signing import address_of  # noqa: E402
from tests.envs.market import HOUR, T0, synthetic_market  # noqa: E402
from tests.live.artifacts import linear_artifact  # noqa: E402
from tests.live.paper import (  # noqa: E402
    SIGNER_KEY,
    USER,
    SteppedClock,
    book,
    spawn_bridge,
    store_count,
    store_meta,
    wait_for,
)

#: Trading-API paths the bridge calls on every bar (faults aimed at them are met the same bar).
EVERY_BAR = (
    "/fapi/v3/positionRisk", "/fapi/v3/balance", "/fapi/v3/openOrders", "/fapi/v3/premiumIndex",
    "/fapi/v3/ticker/bookTicker", "/fapi/v3/ticker/price", "/fapi/v3/userTrades", "/fapi/v3/income",
)  # fmt: skip
HTTP_KINDS = ("drop", "delay", "5xx", "429", "418")
ORDER_KINDS = ("503_accepted", "order_drop", "order_5xx")
STREAM_KINDS = ("ws_drop", "ws_stall", "duplicate_events", "reorder_events")
NONCE_WINDOW_MS = 10_000
#: The deployment's leverage limit (the loss limits are off: a halted bridge sends no orders to fault).
MAX_LEVERAGE = 2.0
STALL_S = 4.0  # the bridge counts a stream silent for STALL_S - 2 s as stale
LIVE = "status IN ('PENDING','NEW','PARTIALLY_FILLED','UNKNOWN')"


@dataclass
class CampaignResult:
    """What a campaign injected and found."""

    bars: int = 0
    injected: Counter[str] = field(default_factory=Counter)
    visible: Counter[str] = field(default_factory=Counter)
    duplicate_orders: int = 0
    positions_lost: int = 0
    limit_breaches: int = 0
    orders: int = 0
    restarts: int = 0
    seconds: float = 0.0

    def table(self) -> str:
        """Counts per fault type, and per group how many the bridge's log shows."""
        lines = [f"{'fault':<18}{'injected':>9}   {'group':<18}{'group injected':>15}{'in the log':>12}"]
        shown = 0
        for group, kinds in GROUPS.items():
            total = sum(self.injected[k] for k in kinds)
            visible = min(self.visible[group], total)
            shown += visible
            for n, kind in enumerate(kinds):
                tail = f"   {group:<18}{total:>15}{visible:>12}" if n == 0 else ""
                lines.append(f"{kind:<18}{self.injected[kind]:>9}{tail}")
        total = sum(self.injected.values())
        lines += [
            f"{'total':<18}{total:>9}   {'':<18}{'':>15}{shown:>12}",
            f"bars {self.bars}, orders on the exchange {self.orders}, restarts after kill -9 {self.restarts}",
            f"duplicate orders {self.duplicate_orders}, positions lost {self.positions_lost}, "
            f"limit breaches {self.limit_breaches}, {self.seconds:.0f} s",
        ]
        return "\n".join(lines)


def _http_fault(kind: str, path: str, rng: random.Random) -> Fault:
    if kind == "drop":
        return Fault(0, path=path, method="GET")
    if kind == "delay":
        return Fault(200, path=path, method="GET", delay_s=1.2)
    if kind == "5xx":
        return Fault(rng.choice([500, 502, 504]), path=path, method="GET")
    if kind == "429":
        return Fault(429, retry_after=0.2, path=path, method="GET")
    return Fault(418, retry_after=0.3, path=path, method="GET")


def _order_fault(kind: str) -> Fault:
    if kind == "503_accepted":
        return Fault(503, path="/fapi/v3/order", method="POST", process=True)
    if kind == "order_drop":
        return Fault(0, path="/fapi/v3/order", method="POST")
    return Fault(502, path="/fapi/v3/order", method="POST")


def run_campaign(workdir: Path, bars: int = 336, faults_per_bar: float = 3.2, kill_every: int = 40,
                 seed: int = 0, minutes: float = math.inf,
                 nonce_window_ms: int = NONCE_WINDOW_MS) -> CampaignResult:  # fmt: skip
    """Run the campaign in ``workdir`` (``bars`` bars, or fewer if ``minutes`` run out first; the checks
    after the last bar are made either way); see the module docstring."""
    rng = random.Random(seed)
    started = time.monotonic()
    history = 300
    data, funding, mark = synthetic_market(history + bars + 5, seed=seed + 7)
    art = linear_artifact(workdir / "artifact", window=8, momentum=True)
    clock = SteppedClock(T0 + (history + 1) * HOUR + 1_000)
    server = LocalAsterServer(book(data, funding, mark), now_ms=clock.ms, nonce_window_ms=nonce_window_ms,
                              weight_limit=10**9, mark_push_s=0.5)  # fmt: skip
    db, log = workdir / "campaign.sqlite", workdir / "bridge.log"
    result = CampaignResult()
    with server:
        server.open_market("BTCUSDT", "1h")
        server.add_user(USER, 10_000.0, signers=[address_of(SIGNER_KEY)])
        account = server.exchange.accounts[USER.lower()]
        settings = [
            f"artifact={art}", f"base_url={server.base_url}", f"state_dir={workdir}", "run_id=campaign",
            "execution.style=market", "clock=exchange", "history_bars=2000",
            f"nonce_window_ms={nonce_window_ms}", f"limits.stale_stream_s={STALL_S - 2}",
            f"risk.max_leverage={MAX_LEVERAGE}", "risk.max_drawdown=.inf", "risk.max_daily_loss=.inf",
        ]  # fmt: skip
        proc = spawn_bridge(*settings, log=log)
        order_faults: list[tuple[Fault, str]] = []
        armed = False  # a kill -9 waits for the next bar that sends an order
        try:
            for i in range(bars):
                if time.monotonic() - started > minutes * 60.0 and not armed:
                    break
                bar_ms = T0 + (history + i) * HOUR
                if kill_every > 0 and i % kill_every == kill_every // 2 and not armed:
                    armed = True
                    _drain(server, order_faults, result)  # the armed fault must be the next one met
                    server.inject(0, path="/fapi/v3/order", method="POST", process=True, delay_s=1.5)
                if i and not armed:  # not while it starts (a start-up fault is refused, by design);
                    # the armed fault's request must be the only one the exchange holds
                    _inject_bar(server, rng, faults_per_bar, result, order_faults, nonce_window_ms + 1_500)
                if i:
                    clock.jump_to(bar_ms + HOUR + 1_000)  # one second into the next bar
                    server.sync()
                if armed and _kill_mid_order(db, proc, bar_ms, account, server):
                    armed = False
                    result.injected["kill_9"] += 1
                    result.restarts += 1
                    proc = spawn_bridge(*settings, log=log)
                wait_for(lambda: _settled(db, bar_ms), timeout_s=180, what=f"bar {i} settled", proc=proc)  # noqa: B023
                server.skew_clock(0)
                result.bars += 1
                ids = Counter(o.client_order_id for o in account.orders.values())
                result.duplicate_orders = sum(n - 1 for n in ids.values())
                last_qty = _last_account_qty(db)
                if last_qty is None or abs(last_qty - account.position("BTCUSDT").qty) > 1e-9:
                    result.positions_lost += 1
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
        _drain(server, order_faults, result)
        result.orders = len(account.orders)
        result.limit_breaches = _breaches(account, server.exchange.market("BTCUSDT"), MAX_LEVERAGE)
    result.visible = _visible(log)
    result.seconds = time.monotonic() - started
    return result


def _inject_bar(server: LocalAsterServer, rng: random.Random, rate: float, result: CampaignResult,
                order_faults: list[tuple[Fault, str]], skew_ms: int) -> None:  # fmt: skip
    """Queue this bar's faults (a count around ``rate``; at most one stream stall per bar; clock skews of
    ``skew_ms`` either way)."""
    count = int(rate) + (1 if rng.random() < rate - int(rate) else 0)
    stalled = dropped = user_faulted = False
    for _ in range(count):
        group = rng.random()
        if group < 0.55:
            kind = rng.choice(HTTP_KINDS)
            server.faults.add(_http_fault(kind, rng.choice(EVERY_BAR), rng))
            result.injected[kind] += 1
        elif group < 0.7:
            kind = rng.choice(ORDER_KINDS)
            fault = _order_fault(kind)
            server.faults.add(fault)
            order_faults.append((fault, kind))
            result.injected[kind] += 1
        elif group < 0.78:
            server.skew_clock(rng.choice([-1, 1]) * skew_ms)
            result.injected["clock_skew"] += 1
        else:
            kind = rng.choice(STREAM_KINDS)
            if kind in ("duplicate_events", "reorder_events") and (dropped or not _user_connected(server)):
                continue  # a user event sent while the bridge reconnects reaches no one: not a fault met
            if kind == "ws_drop":
                if not user_faulted and server.disconnect_streams("all") > 0:
                    dropped = True
                    result.injected[kind] += 1
            elif kind == "ws_stall" and not stalled:
                stalled = True
                server.stall_streams(STALL_S, "market")
                time.sleep(STALL_S + 0.5)
                result.injected[kind] += 1
            elif kind == "ws_stall":
                continue
            elif kind == "duplicate_events":
                server.duplicate_user_events(1)
                result.injected[kind] += 1
                user_faulted = True
            else:
                server.reorder_user_events(2)
                result.injected[kind] += 1
                user_faulted = True


def _user_connected(server: LocalAsterServer) -> bool:
    """Whether a user-data stream is connected to the exchange."""
    return any(conn.user is not None for conn in list(server.streams.connections))


def _settled(db: Path, bar_ms: int) -> bool:
    """The bridge decided on ``bar_ms``, its orders are done and its post-trade check is made."""
    return store_meta(db, "settled_bar_ms") == bar_ms and store_count(db, "orders", LIVE) == 0


def _drain(server: LocalAsterServer, order_faults: list[tuple[Fault, str]], result: CampaignResult) -> None:
    """Remove the faults still queued (no matching request or user event came) and do not count them."""
    pending = {id(f) for f in server.faults._faults}
    for fault, kind in order_faults:
        if id(fault) in pending:
            result.injected[kind] -= 1
    order_faults.clear()
    server.faults._faults.clear()
    stream_faults = server.streams.faults
    result.injected["duplicate_events"] -= stream_faults.duplicate
    stream_faults.duplicate = 0  # (a reordering under way is left to finish: it holds an event back)


def _kill_mid_order(db: Path, proc: subprocess.Popen[bytes], bar_ms: int, account: Any,
                    server: LocalAsterServer) -> bool:  # fmt: skip
    """SIGKILL the bridge once the exchange holds its order request (the armed fault delays the answer and
    then drops it; the order is accepted meanwhile); ``False`` if the bar sent no order."""
    before, queued = len(account.orders), server.pending_faults
    wait_for(lambda: server.pending_faults < queued or _settled(db, bar_ms), timeout_s=180,
             what="an order in flight", proc=proc)  # fmt: skip
    if server.pending_faults == queued:
        return False
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    wait_for(lambda: len(account.orders) > before, timeout_s=30, what="the order accepted")
    return True


def _last_account_qty(db: Path) -> float | None:
    with sqlite3.connect(db, timeout=30) as con:
        row = con.execute("SELECT position_qty FROM account ORDER BY id DESC LIMIT 1").fetchone()
    return None if row is None else float(row[0])


def _breaches(account: Any, market: Any, max_leverage: float) -> int:
    """Fills after which the position's leverage (notional over equity, both at the mark of the moment the
    fill happened, as the risk gate measures it) broke the limit, by more than a millionth."""
    qty, entry, breaches = 0.0, 0.0, 0
    wallet_at: list[tuple[int, int, float]] = []  # (time, tran id, wallet after)
    wallet = 0.0
    for row in sorted(account.income, key=lambda x: x.tran_id):
        wallet += row.income
        wallet_at.append((row.time, row.tran_id, wallet))
    fees = {row.trade_id: row.tran_id for row in account.income if row.trade_id is not None}
    for trade in sorted(account.trades, key=lambda t: t.trade_id):
        sign = 1.0 if trade.side == "BUY" else -1.0
        new = qty + sign * trade.qty
        if qty == 0.0 or new * qty < 0.0:
            entry = trade.price
        elif abs(new) > abs(qty):
            entry = (entry * abs(qty) + trade.price * trade.qty) / abs(new)
        qty = 0.0 if abs(new) < 1e-12 else new
        last = max(t for (_, t, _) in wallet_at if t <= fees.get(trade.trade_id, 0)) if wallet_at else 0
        wallet_now = next(w for (_, t, w) in wallet_at if t == last) if wallet_at else 0.0
        mark = market.mark_price(market.bar_at(trade.time))
        equity = wallet_now + qty * (mark - entry)
        if qty != 0.0 and (equity <= 0 or abs(qty) * mark > max_leverage * equity * (1 + 1e-6)):
            breaches += 1
    return breaches


#: How each fault type shows in the bridge's JSON log (a group shares its evidence).
GROUPS = {
    "http": ("drop", "5xx", "429", "418", "clock_skew", *ORDER_KINDS),
    "delay": ("delay",),
    "ws_drop": ("ws_drop",),
    "ws_stall": ("ws_stall",),
    "duplicate_events": ("duplicate_events",),
    "reorder_events": ("reorder_events",),
    "kill_9": ("kill_9",),
}


def _visible(log: Path) -> Counter[str]:
    """Per group, the faults the JSON log shows: requests the client had to retry and calls that failed
    (http), slow calls (delay), stream drops, stale-stream breaches (stalls), duplicated events dropped,
    resyncs after events out of order, and restarts that settled an order left in flight (kill -9)."""
    seen: Counter[str] = Counter()
    starts = resolved = 0
    for line in log.read_text().splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        kind, msg = event.get("event"), str(event.get("msg", ""))
        if kind == "exchange_fault" and event.get("fault") == "retried":
            seen["http"] += int(msg.split(" request")[0].rsplit(" ", 1)[-1])
        elif kind == "exchange_fault" and event.get("fault") == "failed":
            seen["http"] += 1
        elif kind == "exchange_fault" and event.get("fault") == "slow":
            seen["delay"] += 1
        elif kind == "stream_fault" and event.get("fault") in ("drops", "duplicates", "resyncs"):
            key = {"drops": "ws_drop", "duplicates": "duplicate_events", "resyncs": "reorder_events"}
            seen[key[str(event["fault"])]] += int(event.get("count", 1))
        elif kind == "risk" and event.get("kind") == "stale_stream" and event.get("state_to") != "RUNNING":
            seen["ws_stall"] += 1
        elif kind == "start":
            starts += 1
        elif kind == "order_resolved":
            resolved += 1
    seen["kill_9"] = min(max(starts - 1, 0), resolved)
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bars", type=int, default=336)
    parser.add_argument("--faults-per-bar", type=float, default=3.2)
    parser.add_argument("--kill-every", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--nonce-window-ms",
        type=int,
        default=NONCE_WINDOW_MS,
        help="the exchange's nonce window (an order left unanswered is re-sent after it)",
    )
    parser.add_argument("--minutes", type=float, default=math.inf, help="stop after the bar that ends later")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="asterrl-faults-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"load before: {os.getloadavg()}")
    result = run_campaign(
        workdir,
        args.bars,
        args.faults_per_bar,
        args.kill_every,
        args.seed,
        args.minutes,
        args.nonce_window_ms,
    )
    print(result.table())
    print(f"load after: {os.getloadavg()}; log: {workdir / 'bridge.log'}")


if __name__ == "__main__":
    main()
