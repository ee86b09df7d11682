"""``LocalAsterServer``: the local Aster exchange, REST and WebSocket on one port of 127.0.0.1 (aiohttp).

It answers like Aster's futures API (``/fapi/v1``, ``/fapi/v3``, the streams): market data from a
:class:`MarketDataBook`, signed trading on :class:`LocalExchange` (fills through ``asterrl.sim``), request
weight and order-rate limits, and injected faults. It runs in a background thread (``start``/``stop``, or a
``with`` block) or in the foreground (``serve_forever``)::

    with LocalAsterServer(book, now_ms=clock.ms) as server:
        server.open_market("BTCUSDT", "1h")
        server.add_user("0xUser…", 10_000.0, signers=["0xAgent…"])
        server.inject(503, path="/fapi/v3/order", process=True)   # the order is accepted, the answer lost
        ...

Stopping closes the listening socket and every connection and joins the thread; ``restart`` does the same
and serves again on the same port with every account, order and listen key kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self

import uvloop
from aiohttp import web

from asterrl.data.instruments import bundled_instruments
from asterrl.data.schema import interval_ms, normalize_symbol
from asterrl.errors import ConfigError
from asterrl.exchange.codes import Code
from asterrl.exchange.local.account_routes import register_account_routes
from asterrl.exchange.local.api import ApiError, Params
from asterrl.exchange.local.auth import Authenticator, parse_params
from asterrl.exchange.local.engine import LocalExchange
from asterrl.exchange.local.fault_controls import SERVER_ERROR, FaultControls
from asterrl.exchange.local.faults import Fault, FaultQueue
from asterrl.exchange.local.limits import RequestLimits
from asterrl.exchange.local.market import SymbolMarket
from asterrl.exchange.local.market_data import MarketDataBook
from asterrl.exchange.local.market_routes import register_market_routes
from asterrl.exchange.local.order_routes import register_order_routes
from asterrl.exchange.local.routes import Call, Route, RouteTable
from asterrl.exchange.local.streams import StreamHub
from asterrl.exchange.signing import MAINNET_CHAIN_ID
from asterrl.sim.config import CostConfig, MarketModelConfig
from asterrl.sim.instrument import Instrument, MarginTier

#: Server clock in UTC ms.
ClockMs = Callable[[], int]


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """A request the server received and the status it answered (0 = connection dropped)."""

    method: str
    path: str
    params: dict[str, str]
    status: int
    weight: int


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class LocalAsterServer(FaultControls):
    """The local Aster exchange.

    :param book: market data to serve and trade on; a new empty one if omitted.
    :param now_ms: the market clock (UTC ms); the wall clock if omitted. Rows later than it are not served.
    :param weight_limit: request weight per minute before 429.
    :param order_limit: orders per minute per account before 429/-1015.
    :param host: address to bind; keep the loopback default.
    :param port: port to bind; 0 picks a free one.
    :param model: the markets' costs and limit-order model (``asterrl.sim.MarketModelConfig``).
    :param costs: shorthand for ``model=MarketModelConfig(costs=costs)``.
    :param margin_tiers: margin tiers served on ``leverageBracket`` per symbol; a symbol not given gets its
        bundled instrument's tiers (``asterrl.data.instruments``); a symbol with neither cannot open.
    :param chain_id: EIP-712 chain id V3 signatures must use.
    :param nonce_window_ms: allowed distance of a V3 nonce from the server clock.
    :param listen_key_ttl_ms: listen-key validity after creation or keep-alive.
    :param heartbeat_s: WebSocket ping interval (Aster: 300 s).
    :param max_connection_s: streams are closed after this age (Aster: 24 h).
    :param tick_s: how often (real seconds) the clock is checked for passed bars and expired keys.
    :param mark_push_s: how often the mark-price stream is pushed between bars (Aster: 3 s).
    """

    def __init__(
        self,
        book: MarketDataBook | None = None,
        *,
        now_ms: ClockMs | None = None,
        weight_limit: int = 2400,
        order_limit: int = 1200,
        host: str = "127.0.0.1",
        port: int = 0,
        model: MarketModelConfig | None = None,
        costs: CostConfig | None = None,
        margin_tiers: Mapping[str, Sequence[MarginTier]] | None = None,
        chain_id: int = MAINNET_CHAIN_ID,
        nonce_window_ms: int = 10_000,
        listen_key_ttl_ms: int = 3_600_000,
        heartbeat_s: float = 300.0,
        max_connection_s: float = 86_400.0,
        tick_s: float = 0.05,
        mark_push_s: float = 3.0,
    ) -> None:
        self.book = book if book is not None else MarketDataBook()
        self._now_ms: ClockMs = now_ms or _wall_ms
        #: Added to the clock for ``/time``, nonces and timestamps (the clock-skew fault), ms.
        self.skew_ms = 0
        if model is not None and costs is not None:
            raise ConfigError("local exchange: give model or costs, not both")
        self.margin_tiers = {normalize_symbol(k): tuple(v) for k, v in (margin_tiers or {}).items()}
        self.limits = RequestLimits(weight_limit, order_limit)
        self.exchange = LocalExchange(self._now_ms, model or MarketModelConfig(costs=costs or CostConfig()))
        self.auth = Authenticator(self.server_ms, chain_id, nonce_window_ms)
        self.streams = StreamHub(self, listen_key_ttl_ms, heartbeat_s, max_connection_s)
        self.exchange.on_user_event = self.streams.publish_user
        self.exchange.on_bar_open = lambda market, bar: self.streams.on_bar_open(
            market, bar, self._intervals[market.symbol]
        )
        self.faults = FaultQueue()
        self.tick_s, self.mark_push_s = tick_s, mark_push_s
        self._intervals: dict[str, str] = {}
        self._host, self._port = host, port
        self._lock = threading.Lock()
        self._requests: list[RequestRecord] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._sock: socket.socket | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.routes = RouteTable()
        register_market_routes(self.routes, self)
        register_account_routes(self.routes, self)
        register_order_routes(self.routes, self)

    # -- clocks -----------------------------------------------------------------------------------------

    def now_ms(self) -> int:
        """The market clock, UTC ms."""
        return self._now_ms()

    def server_ms(self) -> int:
        """The server's time as it reports it (``/time``) and checks nonces against: clock plus skew."""
        return self._now_ms() + self.skew_ms

    # -- trading setup ----------------------------------------------------------------------------------

    def open_market(self, symbol: str, interval: str) -> SymbolMarket:
        """Trade ``symbol`` on its ``interval`` bars (with the book's mark and funding) from now on."""
        symbol = normalize_symbol(symbol)
        bars, mark, funding, spec = self.book.series(symbol, interval)
        if bars is None or len(bars) < 3:
            raise ConfigError(f"local exchange: {symbol} needs at least 3 {interval} bars to trade")
        instrument = Instrument.from_exchange_info(spec.payload(), self.leverage_brackets(symbol))
        market = SymbolMarket(
            symbol, bars, funding, mark, interval_ms(interval), instrument, self.exchange.model
        )
        if not market.trading(market.bar_at(self.now_ms())):
            raise ConfigError(
                f"local exchange: the clock must stand inside {symbol}'s bars after the first one (the "
                "market model fills a bar's orders on the previous close's estimates)"
            )
        self._intervals[symbol] = interval
        self.exchange.add_market(market)
        return market

    def refresh_market(self, symbol: str) -> SymbolMarket:
        """Rebuild ``symbol``'s market from the book after bars were appended (a live feed), keeping the
        bars processed so far, the fillable volume used and the book's update ids."""
        symbol = normalize_symbol(symbol)
        with self.exchange.lock:
            old = self.exchange.market(symbol)
            bars, mark, funding, _ = self.book.series(symbol, self._intervals[symbol])
            assert bars is not None
            market = SymbolMarket(
                symbol, bars, funding, mark, old.interval_ms, old.instrument, self.exchange.model
            )
            market.opened, market.closed = old.opened, old.closed
            market.taken_bar, market.taken_taker, market.taken_maker = (
                old.taken_bar,
                old.taken_taker,
                old.taken_maker,
            )
            market.book_update_id = old.book_update_id
            self.exchange.markets[symbol] = market
            return market

    def leverage_brackets(self, symbol: str) -> dict[str, Any]:
        """``leverageBracket`` entry of ``symbol``: the margin tiers with their cumulative amounts."""
        bundled = bundled_instruments()
        tiers = self.margin_tiers.get(symbol) or (bundled[symbol].brackets if symbol in bundled else None)
        if not tiers:  # never another symbol's tiers in silence
            raise ConfigError(
                f"local exchange: no margin tiers for {symbol}: pass margin_tiers={{{symbol!r}: [...]}} or "
                "list it in an instruments file (asterrl data instruments)"
            )
        rows = [
            {"bracket": n, "initialLeverage": int(t.max_leverage), "notionalCap": min(t.notional_cap, 1e12),
             "notionalFloor": t.notional_floor, "maintMarginRatio": t.maint_margin_rate,
             "cum": t.maint_amount}
            for n, t in enumerate(tiers, start=1)
        ]  # fmt: skip
        return {"symbol": symbol, "brackets": rows}

    def add_user(
        self,
        user: str,
        balance: float,
        signers: list[str] | None = None,
        api_keys: dict[str, str] | None = None,
    ) -> None:
        """Open ``user``'s account with ``balance`` USDT; authorise V3 ``signers`` (API wallet addresses)
        and V1 ``api_keys`` (key -> secret) to trade for it."""
        user = user.lower()
        self.exchange.add_account(user, balance)
        for signer in signers or []:
            self.auth.authorize_agent(user, signer)
        for key, secret in (api_keys or {}).items():
            self.auth.add_api_key(user, key, secret)

    def sync(self) -> None:
        """Process every bar the clock has passed and flush the streams (call after moving a manual clock)."""
        self.exchange.catch_up(self.now_ms())
        self._call_soon(lambda: None)

    # -- lifecycle --------------------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind and serve in a background thread; returns ``self``."""
        if self._thread is not None:
            return self
        self._bind()
        loop = uvloop.new_event_loop()  # libuv's loop: about a third less CPU per request than asyncio's
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._startup())
            except BaseException as exc:  # surfaced to the caller of start()
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="local-aster-exchange", daemon=True)
        self._thread.start()
        if not ready.wait(30.0) or failure:
            self.stop()
            raise ConfigError(f"local exchange failed to start: {failure[0] if failure else 'timeout'}")
        return self

    def stop(self) -> None:
        """Stop serving, close every connection and join the thread (keeps all exchange state)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(30.0)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(30.0)
        self._loop = self._thread = None

    def restart(self, down_s: float = 0.0) -> None:
        """Stop, stay down ``down_s`` seconds, and serve again on the same port with the same state."""
        self._port = self.port
        self.stop()
        time.sleep(down_s)
        self.start()

    def serve_forever(self) -> None:
        """Serve in the foreground until interrupted (Ctrl-C stops cleanly)."""
        self.start()
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(0.5)
        finally:
            self.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._sock is None:
            raise RuntimeError("the local server is not running")
        return int(self._sock.getsockname()[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{self._host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:<port>``."""
        return f"ws://{self._host}:{self.port}"

    def _bind(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self._host, self._port))
        except OSError as exc:
            sock.close()
            raise ConfigError(
                f"local exchange: cannot bind {self._host}:{self._port} ({exc.strerror})"
            ) from None
        sock.listen(512)
        sock.setblocking(False)
        self._sock = sock

    async def _startup(self) -> None:
        app = web.Application(client_max_size=1 << 20)
        app.router.add_route("GET", "/ws/{name:.*}", self.streams.handle)
        app.router.add_route("GET", "/stream", self.streams.handle)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        assert self._sock is not None
        await web.SockSite(runner, self._sock).start()
        self._runner = runner
        loop = asyncio.get_running_loop()
        loop._thread_id = threading.get_ident()  # type: ignore[attr-defined]  # read by StreamHub._enqueue
        self.streams.bind(loop)
        self._tasks = [asyncio.ensure_future(self._ticker())]

    async def _shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self.streams.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    async def _ticker(self) -> None:
        """Move the market with the clock, expire listen keys, push the mark price between bars."""
        last_mark = time.monotonic()  # the first periodic push one period after the start
        while True:
            await asyncio.sleep(self.tick_s)
            now = self.now_ms()
            with contextlib.suppress(Exception):
                self.exchange.catch_up(now)
                await self.streams.expire_keys(self.server_ms())
                if time.monotonic() - last_mark >= self.mark_push_s:
                    last_mark = time.monotonic()
                    with self.exchange.lock:
                        for market in self.exchange.markets.values():
                            bar = market.bar_at(now)
                            if market.trading(bar):
                                self.streams.push_mark(market, bar, self.server_ms())

    def _call_soon(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the server's loop and wait for it (after everything already queued there)."""
        loop = self._loop
        if loop is None or not loop.is_running():
            return fn()

        async def call() -> Any:
            await asyncio.sleep(0)
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), loop).result(30.0)

    def run_on_loop(self, coro_fn: Callable[[], Any]) -> Any:
        """Await ``coro_fn()`` on the server's loop from another thread and return its result."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("the local server is not running")
        return asyncio.run_coroutine_threadsafe(coro_fn(), loop).result(30.0)

    # -- inspection -------------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request received so far, in order."""
        with self._lock:
            return list(self._requests)

    @property
    def pending_faults(self) -> int:
        return len(self.faults)

    def used_weight(self) -> int:
        """Request weight used in the server clock's current minute."""
        return self.limits.used_weight(self.now_ms())

    # -- request handling (on the loop thread) ----------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method, path = request.method, request.path
        query = request.query_string
        body = (await request.read()).decode() if request.can_read_body else ""
        params = parse_params(query, body)
        fault = self.faults.take(path, method)
        if fault is not None and fault.delay_s > 0:
            await asyncio.sleep(fault.delay_s)
        route = self.routes.get(method, path)
        weight = route.weight(Params(params)) if route is not None else 1
        headers: dict[str, str] = {}
        if fault is not None and fault.status != 200 and not fault.process:
            status, payload = self._fault_answer(fault, headers)
        else:
            status, payload = self._answer(route, request, method, path, query, body, params, weight, headers)
            if fault is not None and fault.status != 200:
                status, payload = self._fault_answer(fault, headers)
        with self._lock:
            self._requests.append(RequestRecord(method, path, params, status, weight))
        if status == 0:
            if request.transport is not None:
                request.transport.close()
            raise asyncio.CancelledError
        text = json.dumps(payload, separators=(",", ":"))
        return web.Response(text=text, status=status, headers=headers, content_type="application/json")

    def _answer(
        self,
        route: Route | None,
        request: web.Request,
        method: str,
        path: str,
        query: str,
        body: str,
        params: dict[str, str],
        weight: int,
        headers: dict[str, str],
    ) -> tuple[int, Any]:
        now = self.now_ms()
        try:
            headers["X-MBX-USED-WEIGHT-1M"] = str(self.limits.charge(now, weight))
            if route is None:
                if path in self.routes.paths:
                    return 405, {"code": -1000, "msg": f"Method {method} is not supported for {path}."}
                return 404, {"code": -1000, "msg": f"Unknown endpoint {path}."}
            version = "v3" if path.startswith("/fapi/v3") else "v1"
            user = self._authenticate(route, request, version, query, body, params)
            if route.counts_orders and user is not None:
                headers["X-MBX-ORDER-COUNT-1M"] = str(self.limits.charge_order(now, user))
            return 200, route.handler(Call(Params(params), user, now, version))
        except ApiError as err:
            headers.update(err.headers)
            return err.status, err.body()
        except Exception:  # a bug in the simulator must still answer like a venue, not hang the client
            return 500, {"code": SERVER_ERROR[0], "msg": SERVER_ERROR[1]}

    def _authenticate(
        self, route: Route, request: web.Request, version: str, query: str, body: str, params: dict[str, str]
    ) -> str | None:
        if route.security == "NONE":
            return None
        if version == "v3":
            return self.auth.verify_v3(query, body, params)
        api_key = request.headers.get("X-MBX-APIKEY")
        if route.security == "USER_STREAM":
            return self.auth.user_of_api_key(api_key)
        return self.auth.verify_v1(api_key, query, body, params)


__all__ = ["Code", "Fault", "LocalAsterServer", "RequestRecord"]
