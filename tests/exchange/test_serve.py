"""``asterrl exchange serve`` runs the local exchange, prints the base URL and test keys, trades, and stops
cleanly on Ctrl-C; bad options are one line; a fault plan is applied; a live feed extends the market."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from asterrl.data.sources.aster import AsterSource
from asterrl.errors import ConfigError
from asterrl.exchange.client import AsterClient
from asterrl.exchange.local import FaultPlan, LocalAsterServer, ManualClock
from asterrl.exchange.local.replay import LiveFeed
from asterrl.exchange.models import OrderRequest
from asterrl.exchange.rest import ClientConfig, V3Credentials
from tests.exchange.venue import T0, H, book_of, flat_bars, local_exchange, run

REPO = Path(__file__).resolve().parents[2]


def _serve(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "experiments.cli", "exchange", "serve", *args]
    return subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.slow
def test_serve_prints_keys_trades_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps([{"at_s": 0, "action": "http", "status": 503, "path": "/fapi/v3/order",
                                 "method": "POST", "process": True}]))  # fmt: skip
    proc = _serve("--speed", "60", "--faults", str(plan), "data.start=2023-01-01", "data.end=2023-01-08")
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 120
        while not any("Ctrl-C stops" in line for line in lines):
            assert proc.poll() is None and time.monotonic() < deadline, (
                proc.stderr.read() if proc.stderr else ""
            )
            assert proc.stdout is not None
            lines.append(proc.stdout.readline())
        text = "".join(lines)
        base = re.search(r"(http://127\.0\.0\.1:\d+)", text)
        user = re.search(r"test user (0x[0-9a-fA-F]{40})\s+signer key (0x[0-9a-f]{64})", text)
        assert base and user, text

        async def trade() -> tuple[str, int]:
            config = ClientConfig(base.group(1), timeout_s=2.0)
            async with AsterClient(config, V3Credentials(user.group(1), user.group(2))) as client:
                await client.sync_time()
                await client.load_instruments()
                order = await client.new_order(OrderRequest("BTCUSDT", "BUY", "MARKET", Decimal("0.01")))
                return order.status, client.unknown_outcomes

        # the plan's 503 answered the order although the exchange took it: resolved by its client order id
        assert run(trade) == ("FILLED", 1)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, err
    assert out.strip().endswith("stopped")


@pytest.mark.slow
def test_bad_options_are_one_line(cli) -> None:  # type: ignore[no-untyped-def]
    for args, needle in (
        (["--speed", "0"], "--speed must be > 0"),
        (["--faults", "/nonexistent/plan.json"], "fault plan /nonexistent/plan.json: cannot read"),
        (["--api-key", "no-colon"], "--api-key takes KEY:SECRET"),
        (["--port", "70000"], "--port must lie in [0, 65535]"),
    ):
        result = cli("exchange", "serve", *args)
        assert result.code == 2, (args, result)
        assert result.err.strip().count("\n") == 0 and needle in result.err and "Traceback" not in result.err


def test_fault_plans_are_validated_and_applied(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="entry 0 needs an 'action'"):
        FaultPlan.from_list([{"at_s": 1}])
    with pytest.raises(ConfigError, match="integer 'status'"):
        FaultPlan.from_list([{"action": "http"}])
    path = tmp_path / "plan.yaml"
    path.write_text(
        "- {at_s: 0, action: http, status: 500, times: 2, path: /fapi/v1/time}\n"
        "- {at_s: 0.2, action: skew, ms: 5000}\n"
    )
    with local_exchange() as (server, _):
        thread = server.apply_plan(FaultPlan.load(path))
        thread.join(5)
        assert server.pending_faults == 2 and server.skew_ms == 5000


def test_a_live_feed_extends_the_market_while_it_trades() -> None:
    upstream_clock = ManualClock((T0 + 21 * H) / 1000)  # the public feed has closed bars 0..20
    all_bars = flat_bars(40)
    with (
        LocalAsterServer(book_of(all_bars), now_ms=upstream_clock.ms) as upstream,
        AsterSource(upstream.base_url, clock=upstream_clock.time) as source,
        local_exchange(all_bars.iloc[:10].reset_index(drop=True), at_bar=9) as (server, clock),
    ):
        feed = LiveFeed(server, source, ["BTCUSDT"], "1h", poll_s=60)
        assert server.exchange.markets["BTCUSDT"].n_bars == 10
        assert feed.poll_once(now_ms=upstream_clock.ms()) == 11
        market = server.exchange.markets["BTCUSDT"]
        assert market.n_bars == 21 and market.opened == 9
        clock.advance(5 * 3600)  # one bar behind the feed's clock, as the live mode runs
        server.sync()
        assert (market.closed, market.opened) == (13, 14)
        assert market.last_price(market.bar_at(clock.ms())) == 30_140.0
        assert feed.poll_once(now_ms=upstream_clock.ms()) == 0
