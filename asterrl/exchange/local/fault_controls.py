"""Fault controls of the local exchange (``LocalAsterServer`` inherits them): queue HTTP faults, drop or
stall streams, duplicate or reorder user events, expire listen keys, skew the clock, restart, and run a
fault plan. What each fault does is described in ``faults.py``."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from asterrl.errors import ConfigError
from asterrl.exchange.local.faults import Fault, FaultPlan

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable

    from asterrl.exchange.local.faults import FaultQueue
    from asterrl.exchange.local.limits import RequestLimits
    from asterrl.exchange.local.streams import StreamHub

SERVER_ERROR = (-1001, "Internal error; unable to process your request. Please try again.")
_FAULT_BODIES: dict[int, tuple[int, str]] = {
    429: (-1003, "Too many requests; current limit is {limit} request weight per 1 MINUTE."),
    418: (-1003, "Way too many requests; IP banned until {until}."),
    403: (-1002, "You are not authorized to execute this request."),
}


class FaultControls:
    """The fault-injection half of ``LocalAsterServer``."""

    faults: FaultQueue
    streams: StreamHub
    limits: RequestLimits
    skew_ms: int
    _loop: asyncio.AbstractEventLoop | None

    if TYPE_CHECKING:  # provided by LocalAsterServer

        def run_on_loop(self, coro_fn: Callable[[], Any]) -> Any: ...
        def server_ms(self) -> int: ...
        def now_ms(self) -> int: ...
        def restart(self, down_s: float = 0.0) -> None: ...

    def inject(
        self,
        status: int,
        *,
        retry_after: float | None = None,
        body: dict[str, Any] | None = None,
        path: str | None = None,
        times: int = 1,
        delay_s: float = 0.0,
        method: str | None = None,
        process: bool = False,
    ) -> None:
        """Queue ``times`` HTTP faults for the next requests (to ``path``/``method`` only, if given): answer
        ``status`` (0 drops the connection, 200 answers normally) after ``delay_s`` real seconds, with
        ``Retry-After`` and ``body`` if given; with ``process`` the request takes effect first."""
        self.faults.add(Fault(status, retry_after, body, path, delay_s, method, process), times)

    def disconnect_streams(self, kind: str = "all") -> int:
        """Drop WebSocket connections (``all``, ``user`` or ``market``) without a close frame."""
        return int(self.run_on_loop(lambda: self.streams.drop(kind)))

    def stall_streams(self, seconds: float, kind: str = "all") -> None:
        """Send nothing on the streams of ``kind`` for ``seconds`` (connections stay open; events lost)."""
        self.streams.faults.stall_kind = kind
        self.streams.faults.stall_until = time.monotonic() + seconds

    def duplicate_user_events(self, count: int) -> None:
        """Send each of the next ``count`` user-data events twice."""
        self.streams.faults.duplicate += count

    def reorder_user_events(self, count: int, batch: int = 2) -> None:
        """Deliver the next ``count`` user-data events in reversed batches of ``batch``."""
        self.streams.faults.reorder += count
        self.streams.faults.reorder_batch = batch

    def expire_listen_keys(self) -> int:
        """Expire every listen key now (``listenKeyExpired`` is pushed and the streams close)."""
        return int(self.run_on_loop(lambda: self.streams.expire_keys(self.server_ms(), force=True)))

    def skew_clock(self, ms: int) -> None:
        """Move the server's reported time (``/time``, nonce and timestamp checks) by ``ms``."""
        self.skew_ms = ms

    def gap_depth_stream(self, skipped: int = 1) -> None:
        """Skip ``skipped`` update ids on the next depth diff (a lost diff the client must resync from)."""
        self.streams.depth_gap = skipped

    def apply_plan(self, plan: FaultPlan) -> threading.Thread:
        """Run ``plan`` in a background thread (entries at their ``at_s`` after now); returns the thread."""

        def run() -> None:
            start = time.monotonic()
            for entry in plan.entries:
                time.sleep(max(0.0, entry.at_s - (time.monotonic() - start)))
                if self._loop is None and entry.action != "restart":
                    return
                self.apply_fault(entry.action, dict(entry.args))

        thread = threading.Thread(target=run, name="fault-plan", daemon=True)
        thread.start()
        return thread

    def apply_fault(self, action: str, args: dict[str, Any]) -> None:
        """Apply one fault by name (the plan file's ``action`` and its arguments)."""
        if action == "http":
            times = int(args.pop("times", 1))
            self.inject(int(args.pop("status")), times=times, **args)
        elif action == "disconnect":
            self.disconnect_streams(str(args.get("kind", "all")))
        elif action == "stall":
            self.stall_streams(float(args.get("seconds", 10.0)), str(args.get("kind", "all")))
        elif action == "duplicate":
            self.duplicate_user_events(int(args.get("count", 1)))
        elif action == "reorder":
            self.reorder_user_events(int(args.get("count", 2)), int(args.get("batch", 2)))
        elif action == "expire_listen_keys":
            self.expire_listen_keys()
        elif action == "skew":
            self.skew_clock(int(args.get("ms", 0)))
        elif action == "restart":
            self.restart(float(args.get("down_s", 0.0)))
        else:
            raise ConfigError(f"unknown fault action {action!r}")

    def _fault_answer(self, fault: Fault, headers: dict[str, str]) -> tuple[int, Any]:
        if fault.status == 0:
            return 0, None
        if fault.retry_after is not None:
            headers["Retry-After"] = f"{fault.retry_after:g}"
        code, msg = _FAULT_BODIES.get(fault.status, SERVER_ERROR)
        default = {
            "code": code,
            "msg": msg.format(limit=self.limits.weight_limit, until=self.now_ms() + 120_000),
        }
        return fault.status, fault.body if fault.body is not None else default
