"""Monitoring: JSON log lines, metrics in Prometheus text format, and the status other commands read.

* Logs: one JSON object per line (``ts``, ``level``, ``logger``, ``msg`` and the record's structured
  fields), on stderr and optionally a file, with every secret value and signature blanked.
* Metrics: gauges and counters with labels, rendered in Prometheus' text exposition format (v0.0.4) by a
  small HTTP server on 127.0.0.1 (``GET /metrics``); the same server answers ``GET /status`` (JSON) and
  takes ``POST /control/stop|flatten|resume`` (the call other programs, e.g. the dashboard, can make).
* Status: the bridge writes a snapshot into its state store every cycle (``status`` meta key);
  ``asterrl deploy status`` reads it from another process.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from asterrl.live.keys import RedactValues

#: Structured fields a log record may carry (passed as ``extra``) and the JSON line keeps.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """A log record as one JSON object: time (UTC ISO, ms), level, logger, message, structured fields."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        out: dict[str, Any] = {
            "ts": f"{stamp}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            out["error"] = f"{record.exc_info[0].__name__}: {record.exc_info[1]}"
        return json.dumps(out, default=str)


def configure_logging(
    log_file: str = "", secrets: list[str] | None = None, level: int = logging.INFO
) -> None:
    """JSON lines from the ``asterrl`` loggers to stderr (and ``log_file``), secrets blanked (idempotent)."""
    logger = logging.getLogger("asterrl")
    logger.setLevel(level)
    logger.propagate = False
    for handler in list(logger.handlers):
        if getattr(handler, "_asterrl_live", False):
            logger.removeHandler(handler)
            handler.close()
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        handlers.append(logging.FileHandler(log_file))
    for handler in handlers:
        handler.setFormatter(JsonFormatter())
        handler.addFilter(RedactValues(list(secrets or [])))
        handler._asterrl_live = True  # type: ignore[attr-defined]
        logger.addHandler(handler)


class Metrics:
    """Gauges and counters with labels, thread-safe, rendered as Prometheus text.

    :param prefix: prepended to every metric name (``asterrl_``).
    :param labels: labels every sample carries (e.g. ``{"run": "btc-paper"}``).
    """

    def __init__(self, prefix: str = "asterrl_", labels: dict[str, str] | None = None) -> None:
        self.prefix = prefix
        self.labels = dict(labels or {})
        self._lock = threading.Lock()
        self._help: dict[str, tuple[str, str]] = {}
        self._values: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}

    def describe(self, name: str, kind: str, text: str) -> None:
        """Declare ``name`` as a ``gauge`` or ``counter`` with its help text (units included)."""
        with self._lock:
            self._help[name] = (kind, text)
            self._values.setdefault(name, {})

    def set(self, name: str, value: float, **labels: str) -> None:
        """Set a gauge."""
        with self._lock:
            self._values.setdefault(name, {})[tuple(sorted(labels.items()))] = float(value)

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        """Add to a counter."""
        key = tuple(sorted(labels.items()))
        with self._lock:
            series = self._values.setdefault(name, {})
            series[key] = series.get(key, 0.0) + amount

    def value(self, name: str, **labels: str) -> float:
        with self._lock:
            return self._values.get(name, {}).get(tuple(sorted(labels.items())), 0.0)

    def render(self) -> str:
        """The exposition text: ``# HELP``/``# TYPE`` then one line per labelled sample."""
        lines: list[str] = []
        with self._lock:
            for name in sorted(self._values):
                full = self.prefix + name
                kind, text = self._help.get(name, ("gauge", name))
                lines += [f"# HELP {full} {text}", f"# TYPE {full} {kind}"]
                for key, value in sorted(self._values[name].items()):
                    merged = {**self.labels, **dict(key)}
                    tags = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(merged.items()))
                    lines.append(f"{full}{{{tags}}} {_number(value)}" if tags else f"{full} {_number(value)}")
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


class MonitoringServer:
    """``/metrics`` (Prometheus text), ``/status`` (JSON) and ``POST /control/<command>`` on 127.0.0.1.

    :param port: port to bind (0 picks a free one).
    :param metrics: the metrics to render.
    :param status: returns the status snapshot.
    :param control: takes a command (``stop``, ``flatten``, ``resume``) and its source.
    """

    COMMANDS = ("stop", "flatten", "resume")

    def __init__(
        self,
        port: int,
        metrics: Metrics,
        status: Callable[[], dict[str, Any]],
        control: Callable[[str, str], None],
    ) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/metrics":
                    owner._reply(self, 200, metrics.render(), "text/plain; version=0.0.4")
                elif self.path == "/status":
                    owner._reply(self, 200, json.dumps(status(), default=str), "application/json")
                else:
                    owner._reply(self, 404, "not found\n", "text/plain")

            def do_POST(self) -> None:
                command = self.path.removeprefix("/control/")
                if self.path.startswith("/control/") and command in MonitoringServer.COMMANDS:
                    control(command, "http")
                    owner._reply(self, 202, json.dumps({"accepted": command}), "application/json")
                else:
                    owner._reply(self, 404, "unknown control command\n", "text/plain")

            def log_message(self, format: str, *args: Any) -> None:  # requests are not logged
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="live-monitoring", daemon=True
        )

    @staticmethod
    def _reply(handler: BaseHTTPRequestHandler, code: int, text: str, kind: str) -> None:
        body = text.encode()
        handler.send_response(code)
        handler.send_header("Content-Type", kind)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> MonitoringServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10.0)


def format_status(status: dict[str, Any]) -> str:
    """The status snapshot as the lines ``asterrl deploy status`` prints."""
    if not status:
        return "no status yet: the bridge has not finished a cycle"
    lines = [
        f"run        {status.get('run_id')} ({status.get('mode')}, {status.get('symbol')})",
        f"state      {status.get('state')}  reasons: {status.get('reasons') or '-'}",
        f"position   {status.get('position_qty')} @ entry {status.get('entry_price')}",
        f"equity     {status.get('equity')} USDT  (PnL today {status.get('pnl_today')} USDT)",
        f"updated    {status.get('updated_utc')}  (pid {status.get('pid')}, alive: {status.get('alive')})",
    ]
    decision = status.get("last_decision") or {}
    if decision:
        lines.append(
            f"decision   bar {decision.get('bar_utc')}: target {decision.get('target_qty')} -> gated "
            f"{decision.get('gated_qty')}, latency {decision.get('latency_ms')} ms"
        )
    used = status.get("limits_used") or {}
    if used:
        lines.append("limits     " + ", ".join(f"{k} {v:.0%}" for k, v in used.items()))
    return "\n".join(lines)
