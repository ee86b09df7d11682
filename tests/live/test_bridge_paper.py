"""The bridge in paper mode on the local exchange: limit-first execution, the kill switch, a loss limit's
halt, and the status it publishes."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest

from asterrl.live.control import send_command
from asterrl.live.order_ids import parse_client_order_id
from asterrl.live.risk_state import TradingState
from asterrl.live.status import read_status
from tests.envs.market import synthetic_market
from tests.live.artifacts import linear_artifact
from tests.live.paper import paper


@pytest.mark.slow
def test_limit_first_orders_rest_post_only_then_reprice_then_cross_ioc(tmp_path: Path) -> None:
    bars, funding, mark = synthetic_market(500, seed=3)
    art = linear_artifact(tmp_path / "art", window=8, momentum=True)
    settings = ("execution.style=limit", "execution.reprice_after_s=20", "execution.max_reprices=2",
                "execution.price_band_bps=15")  # fmt: skip

    async def scenario() -> list[list]:
        async with paper(tmp_path, art, bars, funding, mark, 301, *settings) as p:
            await p.bridge.on_bar(p.clock.ms())
            bar_ms = p.bridge.store.get_meta("last_bar_ms")
            for _ in range(8):  # 20 s at a time inside the bar: each resting order is re-priced in turn
                p.clock.advance(21.0)
                await p.bridge.tick(p.clock.ms())
            quote = p.bridge.quote
            return [[o, quote] for o in p.bridge.store.orders_of_bar(bar_ms)]

    rows = asyncio.run(scenario())
    orders = [o for o, _ in rows]
    assert [o.attempt for o in orders] == [0, 1, 2, 3]  # two re-prices, then the IOC
    assert all(o.type == "LIMIT" for o in orders)
    assert [o.time_in_force for o in orders] == ["GTX", "GTX", "GTX", "IOC"]
    assert [o.status for o in orders[:3]] == ["CANCELED"] * 3  # the bar never traded through the touch
    assert orders[3].status in ("FILLED", "EXPIRED", "PARTIALLY_FILLED") and orders[3].filled_qty > 0
    mark = orders[0].reference_price
    for order in orders:  # every price within the 15 bps band, the IOC at its edge
        assert order.price is not None and abs(order.price / mark - 1) <= 15e-4 + 0.1 / mark
        key = parse_client_order_id(order.client_order_id)
        assert key is not None
        assert (key.bar_ms, key.leg, key.attempt) == (order.bar_ms, order.leg, order.attempt)
    side = 1 if orders[0].side == "BUY" else -1
    assert side * (orders[3].price - mark) == pytest.approx(15e-4 * mark, abs=0.1)


@pytest.mark.slow
def test_flatten_from_another_process_closes_reduce_only_and_halts(tmp_path: Path) -> None:
    bars, funding, mark = synthetic_market(500, seed=3)
    art = linear_artifact(tmp_path / "art", window=8, momentum=True)

    async def scenario() -> None:
        async with paper(tmp_path, art, bars, funding, mark, 301) as p:
            await p.settle_first()
            user = p.server.exchange.accounts[p.client.rest.user.lower()]
            assert user.position("BTCUSDT").qty != 0.0
            send_command(p.bridge.cfg.state_path(), "flatten", "test")  # as `asterrl deploy flatten` does
            for _ in range(10):
                await p.bridge.tick(p.clock.ms())
            assert user.position("BTCUSDT").qty == 0.0
            assert p.bridge.risk.state is TradingState.HALTED and p.bridge.done()
            last = [o for o in user.orders.values()][-1]
            assert last.reduce_only and last.type == "MARKET"
            before = len(user.orders)
            assert await p.next_bar()  # HALTED: it still decides and records, but sends nothing
            assert len(user.orders) == before
            assert p.bridge.store.last_decision()["state"] == "HALTED"

    asyncio.run(scenario())


@pytest.mark.slow
def test_a_daily_loss_breach_flattens_and_halts_and_the_status_tells(tmp_path: Path) -> None:
    bars, funding, mark = synthetic_market(500, seed=3)
    art = linear_artifact(tmp_path / "art", window=8, momentum=True)

    async def scenario() -> None:
        async with paper(tmp_path, art, bars, funding, mark, 301, "risk.max_daily_loss=0.002") as p:
            await p.settle_first()
            for _ in range(12):
                await p.next_bar()
                if p.bridge.risk.state is TradingState.HALTED:
                    break
            for _ in range(5):
                await p.bridge.tick(p.clock.ms())
            user = p.server.exchange.accounts[p.client.rest.user.lower()]
            assert p.bridge.risk.state is TradingState.HALTED
            assert user.position("BTCUSDT").qty == 0.0
            events = p.bridge.store.risk_events()
            assert any(e[1] == "daily_loss" and e[4] == "HALTED" for e in events)
            status = read_status(p.bridge.store)
            assert status["state"] == "HALTED" and status["alive"] and status["position_qty"] == 0.0
            assert status["limits_used"]["daily_loss"] >= 1.0
            assert status["last_decision"]["latency_ms"] > 0
            text = p.bridge.metrics.render()
            assert 'asterrl_trading_state{run="art-paper",state="HALTED"} 1.0' in text
            assert math.isfinite(status["equity"])

    asyncio.run(scenario())
