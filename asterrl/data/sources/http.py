"""REST plumbing shared by the Binance-shaped sources: request-weight budgeting, retries with backoff, and
exchange error bodies turned into one-line :class:`~asterrl.errors.SourceError` messages.

Aster and Binance USDⓈ-M report the IP's used request weight in ``X-MBX-USED-WEIGHT-<n><unit>`` response
headers, counted per wall-clock minute. :class:`RequestWeightTracker` keeps that figure and sleeps before a
request that would cross a budget (by default 80 % of the 2400/min limit). :class:`RestClient` retries 429
and 418 (honouring ``Retry-After``), 5xx and connection errors with capped exponential backoff drawn from a
seeded RNG, and raises at once on other 4xx answers.
"""

from __future__ import annotations

import math
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Self

import httpx

from asterrl.errors import SourceError

#: Seconds since the epoch (``time.time``-like); injectable so tests need not wait.
Clock = Callable[[], float]
#: Blocks for the given seconds (``time.sleep``-like).
Sleep = Callable[[float], None]

_WEIGHT_HEADER = re.compile(r"^x-mbx-used-weight-(\d+)([smhd])$", re.IGNORECASE)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class SourceUnavailableError(SourceError):
    """The venue could not serve the request (network failure, 5xx, rate limit) after every retry.

    A fallback source may be tried next; a bad request (unknown symbol, bad parameter) is a plain
    :class:`SourceError` instead and is not worth retrying elsewhere.
    """


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard a :class:`RestClient` tries before giving up.

    :param max_retries: retries after the first attempt, for 429/418/5xx answers and connection errors.
    :param backoff_base_s: first backoff in seconds; attempt ``k`` waits ``base * 2**k`` with jitter.
    :param backoff_cap_s: longest single backoff in seconds.
    :param max_retry_after_s: longest ``Retry-After`` (seconds) worth waiting for; a longer ban (418 bans
        run from minutes to days) fails at once with :class:`SourceUnavailableError`.
    :param seed: seed of the jitter RNG, so that a run's waits are reproducible.
    """

    max_retries: int = 5
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 30.0
    max_retry_after_s: float = 300.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.backoff_base_s < 0 or self.backoff_cap_s < 0:
            raise SourceError("retry policy: max_retries and backoff times must be >= 0")


class RequestWeightTracker:
    """The IP's used request weight in the current wall-clock minute, as the exchange reports it.

    :param limit_per_minute: the venue's ``REQUEST_WEIGHT`` limit per minute (2400 on Aster and Binance
        USDⓈ-M, 6000 on Binance spot).
    :param budget_fraction: share of the limit this client lets itself use; a request that would go past it
        waits for the next minute.
    :param clock: wall clock in seconds since the epoch.
    :param sleep: blocking sleep in seconds.
    """

    def __init__(
        self,
        limit_per_minute: int = 2400,
        budget_fraction: float = 0.8,
        clock: Clock = time.time,
        sleep: Sleep = time.sleep,
    ) -> None:
        if limit_per_minute <= 0 or not 0.0 < budget_fraction <= 1.0:
            raise SourceError("request weight: limit must be > 0 and budget_fraction in (0, 1]")
        self.limit_per_minute = limit_per_minute
        self.budget = max(1, math.floor(limit_per_minute * budget_fraction))
        self._clock = clock
        self._sleep = sleep
        self._minute = -1
        self._used = 0
        #: Last value of every ``X-MBX-USED-WEIGHT-*`` header seen, keyed by its interval (``"1m"``).
        self.reported: dict[str, int] = {}
        #: Seconds spent waiting for the minute window to roll.
        self.waited_s = 0.0

    @property
    def used(self) -> int:
        """Weight used in the current minute as far as this client knows."""
        if math.floor(self._clock() / 60.0) != self._minute:
            return 0
        return self._used

    def before_request(self, weight: int) -> None:
        """Account for a request of ``weight``, sleeping first until the next minute if it would cross
        the budget."""
        now = self._clock()
        minute = math.floor(now / 60.0)
        if minute != self._minute:
            self._minute, self._used = minute, 0
        if self._used > 0 and self._used + weight > self.budget:
            wait = (minute + 1) * 60.0 - now + 0.05
            self._sleep(wait)
            self.waited_s += wait
            self._minute, self._used = math.floor(self._clock() / 60.0), 0
        self._used += weight

    def observe(self, headers: Mapping[str, str]) -> None:
        """Take the used weight from a response's ``X-MBX-USED-WEIGHT-<n><unit>`` headers."""
        for name, value in headers.items():
            match = _WEIGHT_HEADER.match(name)
            if match is None:
                continue
            try:
                used = int(value)
            except ValueError:
                continue
            interval = f"{match.group(1)}{match.group(2).lower()}"
            self.reported[interval] = used
            if int(match.group(1)) * _UNIT_S[match.group(2).lower()] == 60:
                self._minute, self._used = math.floor(self._clock() / 60.0), used


def kline_weight(limit: int) -> int:
    """Request weight of a klines / mark-price-klines call with ``limit`` rows (reference §7)."""
    if limit < 100:
        return 1
    if limit < 500:
        return 2
    if limit <= 1000:
        return 5
    return 10


class RestClient:
    """A synchronous JSON-over-HTTP client for one venue's public REST API.

    :param venue: name used in error messages (``"aster"``).
    :param base_url: scheme and host, e.g. ``https://fapi.asterdex.com``.
    :param timeout_s: connect/read timeout per request in seconds.
    :param retry: retry and backoff policy.
    :param weights: request-weight tracker (one per venue and IP).
    :param sleep: blocking sleep used for backoff; the tracker has its own.
    :param transport: optional httpx transport (for example to pin a local address).
    """

    def __init__(
        self,
        venue: str,
        base_url: str,
        *,
        timeout_s: float = 10.0,
        retry: RetryPolicy | None = None,
        weights: RequestWeightTracker | None = None,
        sleep: Sleep = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.venue = venue
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.weights = weights or RequestWeightTracker(sleep=sleep)
        self._sleep = sleep
        self._rng = random.Random(self.retry.seed)
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout_s),
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "asterrl"},
        )
        #: HTTP requests sent (attempts, retries included).
        self.requests_sent = 0
        #: Seconds slept in backoff (rate limits, server errors, network errors).
        self.backoff_s = 0.0

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def backoff_delay(self, attempt: int) -> float:
        """Seconds to wait before retry ``attempt`` (0-based): ``base * 2**attempt`` capped, times a jitter
        factor uniform in [0.5, 1)."""
        raw = min(self.retry.backoff_cap_s, self.retry.backoff_base_s * 2.0**attempt)
        return raw * (0.5 + 0.5 * self._rng.random())

    def get(self, path: str, params: Mapping[str, str | int] | None, *, weight: int, what: str) -> Any:
        """GET ``path`` and return the decoded JSON body.

        :param weight: the endpoint's request weight for these parameters.
        :param what: what is being fetched, for error messages (``"klines for BTCUSDT"``).
        :raises SourceUnavailableError: the venue kept failing (network, 5xx, 429/418) after all retries.
        :raises SourceError: the venue rejected the request (4xx with an exchange error body).
        """
        last_problem = ""
        attempts = self.retry.max_retries + 1
        for attempt in range(attempts):
            self.weights.before_request(weight)
            self.requests_sent += 1
            try:
                response = self._http.get(path, params=dict(params or {}))
            except httpx.TransportError as exc:
                last_problem = f"{type(exc).__name__} reaching {self.base_url}"
                self._wait(self.backoff_delay(attempt), attempt, attempts)
                continue
            self.weights.observe(response.headers)
            status = response.status_code
            if status == 200:
                try:
                    return response.json()
                except ValueError:
                    raise SourceError(
                        f"{self.venue}: {what} ({path}) answered HTTP 200 with a body that is not JSON"
                    ) from None
            last_problem = f"HTTP {status}{_describe_body(response)}"
            if status in (418, 429):
                retry_after = _retry_after_s(response)
                if retry_after is not None and retry_after > self.retry.max_retry_after_s:
                    raise SourceUnavailableError(
                        f"{self.venue}: {what} ({path}) rate-limited: {last_problem}; "
                        f"Retry-After {retry_after:g} s exceeds {self.retry.max_retry_after_s:g} s"
                    )
                self._wait(
                    retry_after if retry_after is not None else self.backoff_delay(attempt), attempt, attempts
                )
                continue
            if status >= 500:
                self._wait(self.backoff_delay(attempt), attempt, attempts)
                continue
            raise SourceError(f"{self.venue}: {what} ({path}) rejected: {last_problem}")
        raise SourceUnavailableError(
            f"{self.venue}: {what} ({path}) failed after {attempts} attempts: {last_problem}"
        )

    def _wait(self, seconds: float, attempt: int, attempts: int) -> None:
        if attempt + 1 < attempts:
            self._sleep(seconds)
            self.backoff_s += seconds


def _retry_after_s(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _describe_body(response: httpx.Response) -> str:
    """``", exchange error -1121: Invalid symbol."`` from a ``{"code", "msg"}`` body, else ``""``."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict) and "code" in body:
        msg = " ".join(str(body.get("msg", "")).split())[:200]
        return f", exchange error {body['code']}: {msg}"
    return ""
