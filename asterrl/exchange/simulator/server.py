"""A local HTTP server that answers like Aster's public futures REST API, for tests and offline runs.

It binds ``127.0.0.1`` on a free port, serves the market-data endpoints of a :class:`MarketDataBook` under
``/fapi/v1`` and ``/fapi/v3`` (and the Binance spot kline paths under ``/api/v3``, so the backup feed's spot
branch can be tested too), reports ``X-MBX-USED-WEIGHT-1M`` counted per minute of its clock, answers 429
with ``-1003`` once the minute's weight passes the limit, and replays queued faults (429, 418, 5xx, dropped
connections) on the next requests::

    with LocalAsterServer(book, now_ms=lambda: 1_700_000_000_000) as server:
        server.inject(429, retry_after=1)
        server.inject(500)
        AsterSource(server.base_url).fetch(...)

Stopping closes the listening socket and every open connection and joins every thread it started.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

from asterrl.exchange.simulator.market_data import ApiError, MarketDataBook

#: Server clock in UTC ms.
ClockMs = Callable[[], int]

_FAULT_BODIES: dict[int, tuple[int, str]] = {
    429: (-1003, "Too many requests; current limit is {limit} request weight per 1 MINUTE."),
    418: (-1003, "Way too many requests; IP banned until {until}."),
    403: (-1002, "You are not authorized to execute this request."),
}
_SERVER_ERROR = (-1001, "Internal error; unable to process your request. Please try again.")


@dataclass(frozen=True, slots=True)
class Fault:
    """One queued failure: answer ``status`` (0 = close the connection without answering; 200 = answer
    normally) after ``delay_s`` seconds of real time."""

    status: int
    retry_after: float | None = None
    body: dict[str, Any] | None = None
    path: str | None = None
    delay_s: float = 0.0


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """A request the server received and the status it answered (0 = connection dropped)."""

    method: str
    path: str
    params: dict[str, str]
    status: int
    weight: int


@dataclass
class _Route:
    handler: Callable[[dict[str, str], int], Any]
    weight: Callable[[dict[str, str]], int]


@dataclass
class _State:
    faults: deque[Fault] = field(default_factory=deque)
    requests: list[RequestRecord] = field(default_factory=list)
    weight_minute: int = -1
    weight_used: int = 0


def _kline_weight(params: dict[str, str]) -> int:
    try:
        limit = int(params.get("limit", "500"))
    except ValueError:
        return 1
    return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10


def _one(params: dict[str, str]) -> int:
    return 1


class LocalAsterServer:
    """Aster-shaped market-data REST server on ``127.0.0.1`` in a background thread.

    :param book: the series to serve; a new empty one if omitted (fill it through :attr:`book`).
    :param now_ms: the server clock (UTC ms); the wall clock if omitted. Rows later than it are not
        served and the request-weight minute follows it.
    :param weight_limit: request weight allowed per minute before requests are refused with 429.
    :param host: address to bind; keep the loopback default.
    :param port: port to bind; 0 picks a free one.
    """

    def __init__(
        self,
        book: MarketDataBook | None = None,
        *,
        now_ms: ClockMs | None = None,
        weight_limit: int = 2400,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.book = book if book is not None else MarketDataBook()
        self.weight_limit = weight_limit
        self._now_ms: ClockMs = now_ms or (lambda: int(time.time() * 1000))
        self._host, self._port = host, port
        self._lock = threading.Lock()
        self._state = _State()
        self._httpd: _Httpd | None = None
        self._thread: threading.Thread | None = None
        self._routes: dict[str, _Route] = {}
        for prefix in ("/fapi/v1", "/fapi/v3"):
            self._routes[f"{prefix}/klines"] = _Route(self._klines, _kline_weight)
            self._routes[f"{prefix}/markPriceKlines"] = _Route(self._mark_klines, _kline_weight)
            self._routes[f"{prefix}/fundingRate"] = _Route(self._funding, _one)
            self._routes[f"{prefix}/exchangeInfo"] = _Route(self._exchange_info, _one)
            self._routes[f"{prefix}/time"] = _Route(self._time, _one)
            self._routes[f"{prefix}/ping"] = _Route(lambda p, now: {}, _one)
        self._routes["/api/v3/klines"] = _Route(self._klines, _kline_weight)
        self._routes["/api/v3/time"] = _Route(self._time, _one)
        self._routes["/api/v3/exchangeInfo"] = _Route(self._exchange_info, _one)

    # -- lifecycle --------------------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind and serve in a background thread; returns ``self``."""
        if self._httpd is not None:
            return self
        httpd = _Httpd((self._host, self._port), _Handler, self)
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="local-aster-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close every connection and join every thread."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if thread is not None:
            thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the local server is not running")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{self._host}:{self.port}"

    # -- test controls ----------------------------------------------------------------------------------

    def inject(
        self,
        status: int,
        *,
        retry_after: float | None = None,
        body: dict[str, Any] | None = None,
        path: str | None = None,
        times: int = 1,
        delay_s: float = 0.0,
    ) -> None:
        """Queue ``times`` failures answered with HTTP ``status`` to the next requests (to ``path`` only,
        if given). ``status=0`` closes the connection without an answer and ``status=200`` answers
        normally; ``retry_after`` (s) adds a ``Retry-After`` header; ``body`` replaces the default
        ``{"code", "msg"}`` body; ``delay_s`` holds the answer back (real seconds, to provoke timeouts)."""
        with self._lock:
            for _ in range(times):
                self._state.faults.append(Fault(status, retry_after, body, path, delay_s))

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request received so far, in order."""
        with self._lock:
            return list(self._state.requests)

    @property
    def pending_faults(self) -> int:
        with self._lock:
            return len(self._state.faults)

    def used_weight(self) -> int:
        """Request weight used in the server clock's current minute."""
        with self._lock:
            minute = self._now_ms() // 60_000
            return self._state.weight_used if minute == self._state.weight_minute else 0

    # -- request handling (called on handler threads) ---------------------------------------------------

    def handle(self, method: str, raw_path: str) -> tuple[int, dict[str, str], Any]:
        """Answer one request: (status, extra headers, JSON body or ``None`` to drop the connection)."""
        split = urlsplit(raw_path)
        path, params = split.path, dict(parse_qsl(split.query, keep_blank_values=True))
        route = self._routes.get(path) if method == "GET" else None
        weight = route.weight(params) if route is not None else 1
        now = self._now_ms()
        with self._lock:
            minute = now // 60_000
            if minute != self._state.weight_minute:
                self._state.weight_minute, self._state.weight_used = minute, 0
            self._state.weight_used += weight
            used = self._state.weight_used
            fault = self._take_fault(path)
        headers = {"X-MBX-USED-WEIGHT-1M": str(used)}
        status, body = self._answer(route, method, path, params, now, used, fault, headers)
        with self._lock:
            self._state.requests.append(RequestRecord(method, path, params, status, weight))
        return status, headers, body

    def _answer(
        self,
        route: _Route | None,
        method: str,
        path: str,
        params: dict[str, str],
        now: int,
        used: int,
        fault: Fault | None,
        headers: dict[str, str],
    ) -> tuple[int, Any]:
        if fault is not None and fault.delay_s > 0:
            time.sleep(fault.delay_s)
        if fault is not None and fault.status != 200:
            if fault.status == 0:
                return 0, None
            if fault.retry_after is not None:
                headers["Retry-After"] = f"{fault.retry_after:g}"
            code, msg = _FAULT_BODIES.get(fault.status, _SERVER_ERROR)
            default = {"code": code, "msg": msg.format(limit=self.weight_limit, until=now + 120_000)}
            return fault.status, fault.body if fault.body is not None else default
        if used > self.weight_limit:
            headers["Retry-After"] = str(60 - (now // 1000) % 60)
            code, msg = _FAULT_BODIES[429]
            return 429, {"code": code, "msg": msg.format(limit=self.weight_limit)}
        if route is None:
            if path in self._routes:
                return 405, {"code": -1000, "msg": f"Method {method} is not supported for {path}."}
            return 404, {"code": -1000, "msg": f"Unknown endpoint {path}."}
        try:
            return 200, route.handler(params, now)
        except ApiError as err:
            return err.status, err.body()
        except Exception:  # a bug in the simulator must still answer like a venue, not hang the client
            return 500, {"code": _SERVER_ERROR[0], "msg": _SERVER_ERROR[1]}

    def _take_fault(self, path: str) -> Fault | None:
        faults = self._state.faults
        for i, fault in enumerate(faults):
            if fault.path is None or fault.path == path:
                del faults[i]
                return fault
        return None

    def _klines(self, params: dict[str, str], now: int) -> Any:
        return self.book.klines(params, now)

    def _mark_klines(self, params: dict[str, str], now: int) -> Any:
        return self.book.klines(params, now, mark=True)

    def _funding(self, params: dict[str, str], now: int) -> Any:
        return self.book.funding_rate(params, now)

    def _exchange_info(self, params: dict[str, str], now: int) -> Any:
        return self.book.exchange_info(now, self.weight_limit)

    def _time(self, params: dict[str, str], now: int) -> Any:
        return {"serverTime": now}


class _Httpd(ThreadingHTTPServer):
    """Threading server that remembers its open connections so that ``stop`` can close them."""

    daemon_threads = False
    block_on_close = True
    allow_reuse_address = False

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], app: LocalAsterServer
    ) -> None:
        self.app = app
        self._conn_lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (timeout, reset) is routine; anything else is printed as usual."""
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)

    def track(self, conn: socket.socket, open_: bool) -> None:
        with self._conn_lock:
            if open_:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def close_connections(self) -> None:
        with self._conn_lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Httpd
    #: Idle keep-alive connections are closed after this many seconds.
    timeout = 30

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        status, headers, body = self.server.app.handle(method, self.path)
        if status == 0:
            self.close_connection = True
            return
        payload = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""
