"""Monitoring: Prometheus text written out by hand, the local HTTP server, JSON log lines without secrets."""

from __future__ import annotations

import json
import logging
import urllib.request
from pathlib import Path

from asterrl.live.monitoring import Metrics, MonitoringServer, configure_logging, format_status

SECRET = "4fd0a42218f3eae43a6ce26d22544e986139a01e5b34a62db53757ffca81bae1"


def test_metrics_render_as_prometheus_text() -> None:
    m = Metrics(labels={"run": "btc-paper"})
    m.describe("equity_usdt", "gauge", "Account equity, USDT.")
    m.describe("orders_total", "counter", "Orders sent.")
    m.set("equity_usdt", 10_250.5)
    m.inc("orders_total", side="BUY")
    m.inc("orders_total", side="BUY")
    m.inc("orders_total", side="SELL")
    assert m.render() == (
        "# HELP asterrl_equity_usdt Account equity, USDT.\n"
        "# TYPE asterrl_equity_usdt gauge\n"
        'asterrl_equity_usdt{run="btc-paper"} 10250.5\n'
        "# HELP asterrl_orders_total Orders sent.\n"
        "# TYPE asterrl_orders_total counter\n"
        'asterrl_orders_total{run="btc-paper",side="BUY"} 2.0\n'
        'asterrl_orders_total{run="btc-paper",side="SELL"} 1.0\n'
    )


def test_the_server_serves_metrics_status_and_takes_control_commands() -> None:
    metrics = Metrics()
    metrics.set("position_base", -0.25)
    received: list[tuple[str, str]] = []
    server = MonitoringServer(0, metrics, lambda: {"state": "RUNNING"}, lambda c, s: received.append((c, s)))
    server.start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        assert "asterrl_position_base -0.25" in urllib.request.urlopen(f"{base}/metrics").read().decode()
        assert json.loads(urllib.request.urlopen(f"{base}/status").read()) == {"state": "RUNNING"}
        request = urllib.request.Request(f"{base}/control/flatten", method="POST", data=b"")
        assert urllib.request.urlopen(request).status == 202
        assert received == [("flatten", "http")]
    finally:
        server.stop()


def test_log_lines_are_json_with_their_fields_and_no_secret(tmp_path: Path) -> None:
    path = tmp_path / "bridge.log"
    configure_logging(str(path), [SECRET])
    log = logging.getLogger("asterrl.live.test")
    log.info("order sent: %s", "a1-x-0-0", extra={"event": "order", "qty": 0.5})
    log.warning("signing failed for key %s", SECRET)
    for handler in logging.getLogger("asterrl").handlers:
        handler.flush()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert (
        lines[0]["msg"] == "order sent: a1-x-0-0" and lines[0]["event"] == "order" and lines[0]["qty"] == 0.5
    )
    assert lines[0]["level"] == "info" and lines[0]["ts"].endswith("Z")
    assert SECRET not in path.read_text() and "<redacted>" in lines[1]["msg"]


def test_status_lines() -> None:
    assert "no status yet" in format_status({})
    decision = {"bar_utc": "2024-01-01T00:00Z", "target_qty": 1.0, "gated_qty": 0.5, "latency_ms": 1.2}
    status = {"run_id": "r", "mode": "paper", "symbol": "BTCUSDT", "state": "REDUCING", "position_qty": 0.5}
    status |= {"reasons": {"stale_data": "REDUCING"}, "equity": 1000.0, "pnl_today": -3.5}
    text = format_status({**status, "limits_used": {"leverage": 0.5}, "last_decision": decision})
    assert (
        "REDUCING" in text
        and "PnL today -3.5 USDT" in text
        and "leverage 50%" in text
        and "latency 1.2 ms" in text
    )
