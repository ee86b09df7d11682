"""The client stays under the request budgets before the exchange has to say no, and no key, secret,
signature or listen key reaches a log line or an error message."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import pytest

from asterrl.exchange.client import AsterClient
from asterrl.exchange.errors import ExchangeError
from asterrl.exchange.models import OrderRequest
from asterrl.exchange.rate_limits import RateLimits
from asterrl.exchange.rest import ClientConfig
from asterrl.exchange.user_stream import UserDataStream
from tests.exchange.venue import SIGNER_KEY, V1_KEY, V1_SECRET, local_exchange, ready_client, run


def test_budget_tracking_from_headers_waits_for_the_next_minute() -> None:
    now = [600.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    async def scenario() -> None:
        limits = RateLimits(
            weight_limit=100, order_limit=10, budget_fraction=0.5, clock_s=lambda: now[0], sleep=sleep
        )
        await limits.acquire(40)
        limits.observe(
            {"X-MBX-USED-WEIGHT-1M": "45", "X-MBX-ORDER-COUNT-1M": "4", "X-MBX-USED-WEIGHT-1S": "99"}
        )
        assert (limits.used_weight, limits.order_count) == (45, 4)  # the 1-second header is not the minute's
        await limits.acquire(5)  # 50: exactly the budget
        assert slept == []
        now[0] += 10.0
        await limits.acquire(1)  # 51 > 50: wait for the minute at 660 s (plus 50 ms)
        assert slept == [pytest.approx(50.05)] and limits.used_weight == 1
        await limits.acquire(1, orders=1)
        limits.observe({"X-MBX-ORDER-COUNT-1M": "5"})
        await limits.acquire(1, orders=1)  # 6 orders > 5 budget
        assert len(slept) == 2
        limits.block(30.0)
        await limits.acquire(1)
        assert slept[-1] == pytest.approx(30.0)

    asyncio.run(scenario())


def test_the_client_never_crosses_the_servers_weight_limit() -> None:
    with local_exchange(weight_limit=20) as (server, clock):

        async def advance(seconds: float) -> None:
            clock.advance(seconds)

        async def scenario() -> float:
            limits = RateLimits(weight_limit=20, budget_fraction=0.9, clock_s=clock.time, sleep=advance)
            async with AsterClient(ClientConfig(server.base_url), limits=limits) as client:
                for _ in range(50):
                    await client.server_time()
                return limits.waited_s

        waited = run(scenario)
    statuses = [r.status for r in server.requests]
    assert statuses == [200] * 50  # the server never had to refuse
    assert waited > 0  # the client waited for two minute boundaries instead


def test_no_secret_reaches_a_log_or_an_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[str] = []
    with local_exchange() as (server, _):

        async def scenario() -> None:
            for v1 in (False, True):
                async with await ready_client(server, v1=v1) as client:
                    stream = UserDataStream(client, server.ws_url)
                    await stream.start()
                    await client.new_order(OrderRequest("BTCUSDT", "BUY", "MARKET", Decimal("0.01")))
                    await client.positions()
                    await client.open_orders("BTCUSDT")
                    off_step = OrderRequest("BTCUSDT", "BUY", "MARKET", Decimal("0.0015"))
                    post_only = OrderRequest(
                        "BTCUSDT", "BUY", "LIMIT", Decimal("0.01"), Decimal("30100.0"), time_in_force="GTX"
                    )
                    for bad in (off_step, post_only):
                        try:
                            await client.new_order(bad)
                        except ExchangeError as exc:
                            errors.append(f"{exc!s} {exc!r}")
                    try:
                        await client.get_order("BTCUSDT", client_order_id="nope")
                    except ExchangeError as exc:
                        errors.append(f"{exc!s} {exc!r}")
                    errors.append(repr(client.rest.config))
                    await stream.stop()

        run(scenario)
        keys = [k for k in server.streams.keys._expiry]  # every listen key handed out
    signatures = [r.params["signature"] for r in server.requests if "signature" in r.params]
    assert len(signatures) > 10 and keys and len(errors) == 8
    text = caplog.text + "\n".join(errors)
    assert "signature=<redacted>" in caplog.text  # the client's debug log showed signed URLs, redacted
    for secret in [SIGNER_KEY[2:], V1_SECRET, V1_KEY, *signatures, *keys]:
        assert secret not in text
