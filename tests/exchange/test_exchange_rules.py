"""Account rules of the local exchange with Aster's codes, the events it pushes for funding, margin calls
and liquidations, and its clocks."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest

from asterrl.data.instruments import bundled_instruments
from asterrl.exchange.errors import NoSuchOrder, OrderRefused, OrderRejected
from asterrl.exchange.local import ScaledClock, SymbolSpec
from asterrl.exchange.models import OrderRequest
from asterrl.exchange.user_stream import UserDataStream
from tests.exchange.test_accounting import COSTS, PLAN, market_frames
from tests.exchange.venue import T0, H, flat_bars, in_thread, local_exchange, ready_client, run

D = Decimal


async def arrived(events: list[dict[str, Any]], kind: str, also: Any = lambda e: True) -> None:
    """Wait (up to 10 s: the box may be busy) until an event of ``kind`` has been received."""
    for _ in range(500):
        if any(e["e"] == kind and also(e) for e in events):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {kind} event arrived")


def limit(side: str, qty: str, price: str, cid: str | None = None, **kw: Any) -> OrderRequest:
    return OrderRequest(
        "BTCUSDT", side, "LIMIT", D(qty), D(price), time_in_force="GTC", client_order_id=cid, **kw
    )


def test_account_rules_answer_with_asters_codes() -> None:
    btc_tiers = {"XBTUSDT": bundled_instruments()["BTCUSDT"].brackets}  # named: no symbol borrows another's
    with local_exchange(balance=1_000.0, margin_tiers=btc_tiers) as (server, _):
        # a BTC-priced symbol whose minimum notional (100 USDT) exceeds 0.001 BTC
        server.book.add_symbol(SymbolSpec("XBTUSDT", "XBT", min_notional="100"))
        server.book.add_bars("XBTUSDT", "1h", flat_bars(40))
        server.open_market("XBTUSDT", "1h")

        async def scenario() -> dict[str, int | None]:
            codes: dict[str, int | None] = {}
            async with await ready_client(server) as client:
                await client.new_order(limit("BUY", "0.01", "29500.0", "dup"))
                unknown = [("symbol", "BTCUSDT"), ("origClientOrderId", "never")]
                for name, call in (
                    # 1 BTC at 30050 = 30 050 USDT at 20x needs 1 502 USDT of margin; the wallet holds 1 000
                    ("margin", client.new_order(OrderRequest("BTCUSDT", "BUY", "MARKET", D("1")))),
                    ("duplicate id", client.new_order(limit("BUY", "0.01", "29400.0", "dup"))),
                    ("cancel unknown", client.rest.call("DELETE", "order", unknown, security="TRADE")),
                    ("query unknown", client.get_order("BTCUSDT", client_order_id="never")),
                    ("small", client.new_order(OrderRequest("XBTUSDT", "BUY", "MARKET", D("0.001")))),
                ):
                    try:
                        await call
                        codes[name] = None
                    except (OrderRejected, NoSuchOrder, OrderRefused) as exc:
                        codes[name] = exc.code
                await client.new_order(OrderRequest("XBTUSDT", "BUY", "MARKET", D("0.004")))
                # reduce-only orders are exempt from the minimum notional: 0.001 (30 USDT) closes a quarter
                small = OrderRequest("XBTUSDT", "SELL", "MARKET", D("0.001"), reduce_only=True)
                codes["small reduce-only"] = (
                    None if (await client.new_order(small)).status == "FILLED" else -1
                )
            return codes

        codes = run(scenario)
    assert codes == {
        "margin": -2019,
        "duplicate id": -4116,
        "cancel unknown": -2011,
        "query unknown": -2013,
        "small": -4164,
        "small reduce-only": None,
    }


def test_the_order_rate_limit_is_per_account_and_reported() -> None:
    with local_exchange(order_limit=3) as (server, _):

        async def scenario() -> list[tuple[int, str | None, int]]:
            async with await ready_client(server) as client:
                out = []
                for n in range(4):
                    text, _, headers = client.rest.sign(
                        limit("BUY", "0.01", "29000.0", f"r{n}").params(), "TRADE"
                    )
                    headers["Content-Type"] = "application/x-www-form-urlencoded"
                    async with httpx.AsyncClient(base_url=server.base_url) as http:
                        response = await http.post("/fapi/v3/order", content=text.encode(), headers=headers)
                    code = response.json().get("code", 0) if response.status_code != 200 else 0
                    out.append((response.status_code, response.headers.get("X-MBX-ORDER-COUNT-1M"), code))
                return out

        answers = run(scenario)
    assert answers[:3] == [(200, "1", 0), (200, "2", 0), (200, "3", 0)]
    assert answers[3][0] == 429 and answers[3][2] == -1015


def test_funding_margin_calls_and_liquidations_are_pushed_as_aster_events() -> None:
    bars, mark, funding = market_frames(1)
    events: list[dict[str, Any]] = []
    # the clock jumps an hour per step: a listen key valid for 10 days needs no keep-alive here
    ttl = 10 * 24 * H
    with local_exchange(bars, funding=funding, mark=mark, at_bar=4, costs=COSTS, listen_key_ttl_ms=ttl) as (
        server,
        clock,
    ):

        async def scenario() -> None:
            async with await ready_client(server) as client:
                stream = UserDataStream(client, server.ws_url, events.append)
                await stream.start()
                position = 0.0
                for _, target, _ in PLAN:
                    order = round(target - position, 3)
                    if order:
                        side = "BUY" if order > 0 else "SELL"
                        await client.new_order(OrderRequest("BTCUSDT", side, "MARKET", D(repr(abs(order)))))
                    position = target
                    clock.advance(3600)
                    await in_thread(server.sync)
                await arrived(events, "ORDER_TRADE_UPDATE", lambda e: e["o"]["x"] == "CALCULATED")
                await stream.stop()

        run(scenario)
    funding_updates = [e for e in events if e["e"] == "ACCOUNT_UPDATE" and e["a"]["m"] == "FUNDING_FEE"]
    assert len(funding_updates) == 1 and funding_updates[0]["E"] == T0 + 8 * H  # settled at bar 7's close
    assert funding_updates[0]["a"]["P"] == [] and float(funding_updates[0]["a"]["B"][0]["bc"]) < 0
    liquidations = [e["o"] for e in events if e["e"] == "ORDER_TRADE_UPDATE" and e["o"]["x"] == "CALCULATED"]
    assert len(liquidations) == 1
    assert liquidations[0]["c"].startswith("autoclose-") and liquidations[0]["X"] == "FILLED"
    assert (liquidations[0]["S"], liquidations[0]["q"]) == ("SELL", "3")


def test_a_position_near_liquidation_gets_a_margin_call() -> None:
    bars = flat_bars(12)
    # bar 5 opens at 30050 and closes at its low, 29210 (-2.8 %)
    bars.loc[5, ["high", "low", "close"]] = [30_060.0, 29_210.0, 29_210.0]
    bars.loc[6:, ["open", "high", "low", "close"]] = [29_210.0, 29_260.0, 29_160.0, 29_210.0]
    events: list[dict[str, Any]] = []
    with local_exchange(bars, balance=3_000.0, listen_key_ttl_ms=10 * 24 * H) as (server, clock):

        async def scenario() -> None:
            async with await ready_client(server) as client:
                stream = UserDataStream(client, server.ws_url, events.append)
                await stream.start()
                await client.change_leverage("BTCUSDT", 50)
                await client.new_order(OrderRequest("BTCUSDT", "BUY", "MARKET", D("3")))
                clock.advance(3600)
                await in_thread(server.sync)
                await arrived(events, "MARGIN_CALL")
                (pos,) = await client.positions("BTCUSDT")
                assert pos.amount == 3  # not liquidated
                await stream.stop()

        run(scenario)
    (call,) = [e for e in events if e["e"] == "MARGIN_CALL"]
    row = call["p"][0]
    # maintenance at the 29210 mark: 3 * 29210 * 0.005 - 50 (the 50k-250k bracket's cum) = 388.15 USDT,
    # against a margin balance of about 443 USDT: a margin ratio of 87 %
    assert (row["s"], row["pa"], row["mp"]) == ("BTCUSDT", "3", "29210")
    assert float(row["mm"]) == pytest.approx(388.15, abs=1e-9)
    assert (
        0.8 * (float(call["cw"]) + float(row["up"]))
        <= float(row["mm"])
        < float(call["cw"]) + float(row["up"])
    )


def test_scaled_and_manual_clocks_move_the_market() -> None:
    clock = ScaledClock(T0 + 5 * H, speed=3600.0)  # an hour per second
    with local_exchange(clock=clock, tick_s=0.02) as (server, _):
        market = server.exchange.markets["BTCUSDT"]
        assert market.opened == 5
        time.sleep(1.3)
        assert market.closed >= 5 and market.opened >= 6  # the ticker moved it without any request
    with pytest.raises(ValueError):
        ScaledClock(0, speed=0.0)
