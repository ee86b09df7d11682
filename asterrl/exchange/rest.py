"""Signed REST transport of the Aster client: one httpx connection pool, V3 or V1 auth, budgets, retries.

A call is signed afresh on every attempt (a new nonce or timestamp). What is retried and how:

* 429 and 418: ``Retry-After`` is honoured (every caller waits it out) when it is within
  ``max_retry_after_s``; a longer ban raises :class:`RateLimited` at once.
* -1021 / -4225 (timestamp or nonce outside the server's window, or reused): the clock offset is
  re-measured from ``/time`` and the call is sent again — it was refused before any effect.
* 5xx, timeouts and dropped connections: retried with jittered exponential backoff, except for calls
  marked ``ambiguous`` (order placement and cancels), where the request may have taken effect; those raise
  :class:`OutcomeUnknown` for the caller to resolve by querying (``trading.py``).

Signed parameters go in the query string of GET/DELETE and the form body of POST/PUT; the signed string is
exactly the string sent (URI-encoded, as the official Python docs sign it; ``encoding="raw"`` signs the
un-encoded form as the JS demo does).

Requests go straight to httpx's connection pool (``httpx.AsyncHTTPTransport``): the API needs none of what
``httpx.AsyncClient`` adds per request (base-URL and header merging, cookies, redirects, auth flows, proxies
from the environment), and skipping it is the largest saving on the client's order path
(``benchmarks/exchange.py`` measures both ways in one run).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus, urlencode

import httpx

from asterrl.errors import ConfigError
from asterrl.exchange import redact
from asterrl.exchange.codes import Code
from asterrl.exchange.errors import (
    ClockRejected,
    ExchangeError,
    ExchangeUnavailable,
    RateLimited,
    error_from_response,
)
from asterrl.exchange.nonce import NonceSource
from asterrl.exchange.rate_limits import RateLimits
from asterrl.exchange.signing import MAINNET_CHAIN_ID, HmacSigner, V3Signer

log = logging.getLogger("asterrl.exchange")

Pairs = Sequence[tuple[str, str]]


@dataclass(frozen=True)
class V3Credentials:
    """A V3 API wallet: the user's main address and the signer's (agent's) private key.

    :param user: the main wallet address the account belongs to.
    :param signer_key: the API wallet's private key, hex (never logged or shown).
    :param chain_id: EIP-712 chain id: 1666 mainnet, 714 testnet.
    """

    user: str
    signer_key: str = field(repr=False)
    chain_id: int = MAINNET_CHAIN_ID


@dataclass(frozen=True)
class V1Credentials:
    """A legacy V1 API key and secret (never logged or shown)."""

    api_key: str = field(repr=False)
    secret: str = field(repr=False)


@dataclass(frozen=True)
class ClientConfig:
    """How the client talks to the exchange.

    :param base_url: REST base, e.g. ``https://fapi.asterdex.com`` or a local exchange's.
    :param timeout_s: connect/read timeout per request, seconds.
    :param max_retries: retries after the first attempt for retryable failures.
    :param backoff_base_s: first backoff, seconds (doubling, capped, jittered in [0.5, 1)).
    :param backoff_cap_s: longest backoff, seconds.
    :param max_retry_after_s: longest ``Retry-After`` worth waiting; a longer ban fails at once.
    :param recv_window_ms: V1 ``recvWindow``.
    :param nonce_window_ms: the server's V3 nonce window; an unanswered order is dead once its nonce is
        this much older than the server's clock (and V1's once ``recv_window_ms`` has passed).
    :param encoding: ``uri`` signs the URL-encoded parameter string, ``raw`` the decoded one.
    :param max_connections: size of the connection pool.
    :param seed: seed of the backoff jitter.
    """

    base_url: str
    timeout_s: float = 5.0
    max_retries: int = 3
    backoff_base_s: float = 0.2
    backoff_cap_s: float = 5.0
    max_retry_after_s: float = 60.0
    recv_window_ms: int = 5000
    nonce_window_ms: int = 10_000
    encoding: str = "uri"
    max_connections: int = 32
    seed: int | None = None

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(f"exchange.base_url must start with http:// or https://, got {self.base_url!r}")
        if self.encoding not in ("uri", "raw"):
            raise ConfigError("exchange.encoding must be 'uri' or 'raw'")
        if self.timeout_s <= 0 or self.max_retries < 0 or not 0 < self.recv_window_ms <= 60_000:
            raise ConfigError(
                "exchange: timeout_s > 0, max_retries >= 0 and recv_window_ms in (0, 60000] required"
            )


class OutcomeUnknown(ExchangeError):
    """An ambiguous call (an order or cancel) got no definite answer: it may or may not have taken effect.

    :param deadline_ms: server time after which the request can no longer be accepted (its nonce or
        timestamp has left the window).
    """

    def __init__(self, message: str, *, status: int | None, deadline_ms: float) -> None:
        super().__init__(message, status=status)
        self.deadline_ms = deadline_ms


class RestTransport:
    """The connection pool, signing and retry loop shared by every client call.

    :param config: endpoints, timeouts and retry policy.
    :param credentials: V3 or V1 credentials; ``None`` for public data only.
    :param nonce_state: file keeping V3 nonces unique across restarts and processes (optional).
    :param limits: request budgets; one per IP and account.
    :param sleep: async sleep (injectable).
    """

    def __init__(
        self,
        config: ClientConfig,
        credentials: V3Credentials | V1Credentials | None = None,
        *,
        nonce_state: str | Path | None = None,
        limits: RateLimits | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        redact.install()
        self.config = config
        self.offset_ms = 0.0
        self.version = "v1" if isinstance(credentials, V1Credentials) else "v3"
        self.prefix = f"/fapi/{self.version}"
        self._sleep = sleep
        self.limits = limits or RateLimits(clock_s=lambda: self.server_ms() / 1000.0, sleep=sleep)
        self._rng = random.Random(config.seed)
        self._v3: V3Signer | None = None
        self._user: str | None = None
        self._hmac: HmacSigner | None = None
        if isinstance(credentials, V3Credentials):
            self._v3 = V3Signer(credentials.signer_key, credentials.chain_id)
            self._user = credentials.user
        elif isinstance(credentials, V1Credentials):
            self._hmac = HmacSigner(credentials.api_key, credentials.secret)
        self.nonces = NonceSource(lambda: int(self.server_ms() * 1000.0), nonce_state)
        limits_ = httpx.Limits(
            max_connections=config.max_connections, max_keepalive_connections=config.max_connections
        )
        #: The one connection pool every call goes through.
        self.pool = httpx.AsyncHTTPTransport(limits=limits_)
        self._base = config.base_url.rstrip("/")
        self._headers = (
            ("Accept", "application/json"),
            ("Accept-Encoding", "gzip, deflate"),
            ("User-Agent", "asterrl"),
        )
        self._extensions = {"timeout": httpx.Timeout(config.timeout_s).as_dict()}
        #: Parsed URLs of the paths called with a body (no query string), by path.
        self._urls: dict[str, httpx.URL] = {}
        #: Requests sent (attempts, retries included) and clock resyncs done.
        self.requests_sent = 0
        self.resyncs = 0

    @property
    def signer_address(self) -> str | None:
        return self._v3.address if self._v3 is not None else None

    @property
    def user(self) -> str | None:
        return self._user

    async def close(self) -> None:
        """Close the connection pool."""
        await self.pool.aclose()

    def server_ms(self) -> float:
        """The server's clock as this client estimates it, ms."""
        return time.time() * 1000.0 + self.offset_ms

    async def sync_time(self) -> float:
        """Measure the offset to the server's clock from ``/time`` (half the round trip corrected); ms."""
        before = time.time() * 1000.0
        body = await self.call("GET", "time", security="NONE", weight=1, resync=False)
        after = time.time() * 1000.0
        offset = float(body["serverTime"]) - (before + after) / 2.0
        if offset < self.offset_ms:
            self.nonces.rebase()
        self.offset_ms = offset
        self.resyncs += 1
        return self.offset_ms

    # -- signing ----------------------------------------------------------------------------------------

    def sign(self, pairs: Pairs, security: str) -> tuple[str, float, dict[str, str]]:
        """(parameter string as sent, deadline of the request in server ms, extra headers)."""
        headers: dict[str, str] = {}
        deadline = self.server_ms() + self.config.nonce_window_ms
        items = list(pairs)
        if security == "NONE":
            return urlencode(items), deadline, headers
        if self.version == "v3":
            if self._v3 is None or self._user is None:
                raise ConfigError("this call needs V3 credentials (user and signer key)")
            nonce = self.nonces()
            items += [("nonce", str(nonce)), ("user", self._user), ("signer", self._v3.address)]
            text = urlencode(items)
            signed = unquote_plus(text) if self.config.encoding == "raw" else text
            deadline = nonce / 1000.0 + self.config.nonce_window_ms
            return f"{text}&signature={self._v3.sign(signed)}", deadline, headers
        if self._hmac is None:
            raise ConfigError("this call needs V1 credentials (API key and secret)")
        headers["X-MBX-APIKEY"] = self._hmac.api_key
        if security == "USER_STREAM":
            return urlencode(items), deadline, headers
        timestamp = int(self.server_ms())
        items += [("recvWindow", str(self.config.recv_window_ms)), ("timestamp", str(timestamp))]
        text = urlencode(items)
        return f"{text}&signature={self._hmac.sign(text)}", timestamp + self.config.recv_window_ms, headers

    # -- the call loop ----------------------------------------------------------------------------------

    async def call(
        self,
        method: str,
        path: str,
        pairs: Pairs = (),
        *,
        security: str = "NONE",
        weight: int = 1,
        orders: int = 0,
        ambiguous: bool = False,
        resync: bool = True,
        full_path: bool = False,
    ) -> Any:
        """Send one API call and return its decoded JSON body.

        :param path: endpoint under the version prefix (``"order"``), or a full path with ``full_path``.
        :param security: ``NONE``, ``USER_STREAM``, ``USER_DATA`` or ``TRADE``.
        :param weight: the endpoint's request weight; ``orders`` the orders it places.
        :param ambiguous: the call changes state (order, cancel): no blind retry on 5xx/timeouts.
        :raises OutcomeUnknown: an ambiguous call got no definite answer.
        """
        url = path if full_path else f"{self.prefix}/{path}"
        where = f"aster {method} {url}"
        cfg = self.config
        problem: ExchangeError | None = None
        clock_retries = 0
        for attempt in range(cfg.max_retries + 1):
            if attempt:
                await self._backoff(attempt - 1, problem)
            await self.limits.acquire(weight, orders)
            text, deadline, headers = self.sign(pairs, security)
            started = time.perf_counter()
            self.requests_sent += 1
            try:
                response = await self.send(method, url, text, headers)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                problem = ExchangeUnavailable(f"{where}: {type(exc).__name__} (not sent)")
                continue
            except httpx.TransportError as exc:
                problem = ExchangeUnavailable(f"{where}: {type(exc).__name__} (no answer)")
                if ambiguous:
                    raise OutcomeUnknown(f"{where}: {type(exc).__name__}, outcome unknown", status=None,
                                         deadline_ms=deadline) from None  # fmt: skip
                continue
            self.limits.observe(response.headers)
            status = response.status_code
            if log.isEnabledFor(logging.DEBUG):  # the query (and its signature: redacted) of a GET or DELETE
                query = f"?{text}" if text and method in ("GET", "DELETE") else ""
                elapsed_ms = (time.perf_counter() - started) * 1000.0
                log.debug("%s %s%s -> %d in %.2f ms", method, url, query, status, elapsed_ms)
            if status == 200:
                try:
                    return response.json()
                except ValueError:
                    raise ExchangeUnavailable(
                        f"{where}: HTTP 200 with a body that is not JSON", status=200
                    ) from None
            code, msg = _error_body(response)
            retry_after = _retry_after(response)
            error = error_from_response(where, status, code, msg, retry_after)
            if isinstance(error, RateLimited):
                wait = retry_after if retry_after is not None else self._delay(attempt)
                if wait > cfg.max_retry_after_s:
                    raise error
                self.limits.block(wait)
                problem = error
                continue
            if isinstance(error, ClockRejected) and resync and clock_retries < 2:
                clock_retries += 1
                await self.sync_time()
                problem = None
                continue
            if status >= 500 or code is None:
                if ambiguous:
                    raise OutcomeUnknown(
                        f"{where}: HTTP {status}, outcome unknown", status=status, deadline_ms=deadline
                    )
                problem = error
                continue
            raise error
        assert problem is not None
        raise problem

    async def send(self, method: str, path: str, text: str, headers: dict[str, str]) -> httpx.Response:
        """Send one request through the pool and read its body: ``text`` as the query string of a GET or
        DELETE, else as a form body. Raises httpx's transport errors."""
        if method in ("GET", "DELETE"):
            target: httpx.URL | str = f"{self._base}{path}?{text}" if text else f"{self._base}{path}"
            content = None
        else:
            target = self._urls.get(path) or self._urls.setdefault(path, httpx.URL(self._base + path))
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            content = text.encode()
        request = httpx.Request(
            method, target, content=content, headers=[*self._headers, *headers.items()],
            extensions=self._extensions,
        )  # fmt: skip
        response = await self.pool.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response

    def _delay(self, attempt: int) -> float:
        raw = min(self.config.backoff_cap_s, self.config.backoff_base_s * 2.0**attempt)
        return raw * (0.5 + 0.5 * self._rng.random())

    async def _backoff(self, attempt: int, problem: ExchangeError | None) -> None:
        if problem is None or isinstance(problem, RateLimited):
            return  # a resync retries at once; a rate limit already set its block
        await self._sleep(self._delay(attempt))


def _error_body(response: httpx.Response) -> tuple[int | None, str]:
    try:
        body = response.json()
    except ValueError:
        return None, response.reason_phrase or "no error body"
    if isinstance(body, dict) and "code" in body:
        try:
            return int(body["code"]), str(body.get("msg", ""))
        except (TypeError, ValueError):
            return None, str(body.get("msg", ""))
    return None, "unexpected error body"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


__all__ = ["ClientConfig", "Code", "OutcomeUnknown", "RestTransport", "V1Credentials", "V3Credentials"]
