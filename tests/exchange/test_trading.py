"""The client against the local exchange over real sockets: place, query, amend by cancel-replace and cancel
LIMIT and MARKET orders, with V3 and V1 auth; the user-data stream reports every step."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest

from asterrl.exchange.errors import BadRequest, NoSuchOrder, OrderRejected
from asterrl.exchange.models import Order, OrderRequest
from asterrl.exchange.user_stream import UserDataStream
from asterrl.sim.kernels import market_fill_price
from tests.exchange.venue import T0, H, eventually, in_thread, local_exchange, ready_client, run

D = Decimal


@pytest.mark.parametrize("v1", [False, True], ids=["v3", "v1"])
def test_place_query_amend_and_cancel_limit_and_market_orders(v1: bool) -> None:
    with local_exchange() as (server, clock):
        # bar 5 opens at 30050; market fills pay half a spread (0.5 bp) plus impact on what bar 4's close
        # knows: sigma of the log returns of closes 30010..30050, the mean USDT volume of bars 0-4 (1000 x
        # their opens, mean 30020), rounded up to the tick
        sigma = float(np.std(np.diff(np.log(30_010.0 + 10.0 * np.arange(5))), ddof=1))
        expected_buy = market_fill_price(
            1.0, 30_050.0, 0.5e-4, 0.1, sigma, 0.02 * 30_050.0, 1000 * 30_020.0, 0.1
        )

        async def scenario() -> None:
            client = await ready_client(server, v1)
            async with client:
                bought = await client.new_order(OrderRequest("BTCUSDT", "BUY", "MARKET", D("0.02")))
                assert (bought.status, bought.executed_qty) == ("FILLED", D("0.02"))
                assert float(bought.avg_price) == expected_buy
                rest = OrderRequest("BTCUSDT", "SELL", "LIMIT", D("0.01"), D("30400.0"), time_in_force="GTC",
                                    client_order_id="take-profit-1")  # fmt: skip
                placed = await client.new_order(rest)
                assert (placed.status, placed.client_order_id) == ("NEW", "take-profit-1")
                by_id = await client.get_order("BTCUSDT", order_id=placed.order_id)
                by_cid = await client.get_order("BTCUSDT", client_order_id="take-profit-1")
                assert by_id == by_cid and by_id.price == D("30400")
                amended = await client.cancel_replace(
                    "BTCUSDT", "take-profit-1",
                    OrderRequest("BTCUSDT", "SELL", "LIMIT", D("0.01"), D("30080.0"), time_in_force="GTC",
                                 client_order_id="take-profit-2"),
                )  # fmt: skip
                old = await client.get_order("BTCUSDT", client_order_id="take-profit-1")
                assert old.status == "CANCELED" and amended.status == "NEW"
                assert [o.client_order_id for o in await client.open_orders("BTCUSDT")] == ["take-profit-2"]
                # bar 5 trades up to 30150, 70 through the amended sell at 30080, beyond the 20 bp queue
                # depth (60.16): the whole order fills at its limit, as maker
                clock.advance(3600)
                await in_thread(server.sync)
                filled = await client.get_order("BTCUSDT", client_order_id="take-profit-2")
                assert (filled.status, filled.avg_price) == ("FILLED", D("30080"))
                trades = await client.user_trades("BTCUSDT")
                assert [t.maker for t in trades] == [False, True]
                assert float(trades[1].realized_pnl) == pytest.approx(
                    0.01 * (30_080.0 - expected_buy), abs=1e-9
                )
                # a limit far from the market rests; cancel it by exchange id
                resting = await client.new_order(
                    OrderRequest("BTCUSDT", "BUY", "LIMIT", D("0.01"), D("29800.0"), time_in_force="GTC")
                )
                cancelled = await client.cancel_order("BTCUSDT", order_id=resting.order_id)
                assert cancelled.status == "CANCELED"
                with pytest.raises(NoSuchOrder) as gone:
                    await client.get_order("BTCUSDT", client_order_id="never-sent")
                assert gone.value.code == -2013
                (pos,) = await client.positions("BTCUSDT")
                assert pos.amount == D("0.01")

        run(scenario)


def test_immediate_or_cancel_fill_or_kill_and_post_only() -> None:
    with local_exchange(bars=None) as (server, _):

        async def scenario() -> None:
            async with await ready_client(server) as client:
                # 29900 is below bar 5's open of 30050: an IOC buy there cannot fill and expires
                ioc = await client.new_order(
                    OrderRequest("BTCUSDT", "BUY", "LIMIT", D("0.01"), D("29900.0"), time_in_force="IOC")
                )
                assert (ioc.status, ioc.executed_qty) == ("EXPIRED", D("0"))
                # the modelled ask is 30050 + 0.5 bp = 30051.5025, up to the tick 30051.6: a FOK buy at 30051
                # does not reach it and expires; one at 30052 does and fills at once, never above its limit
                short = await client.new_order(
                    OrderRequest("BTCUSDT", "BUY", "LIMIT", D("0.01"), D("30051.0"), time_in_force="FOK")
                )
                assert (short.status, short.executed_qty) == ("EXPIRED", D("0"))
                fok = await client.new_order(
                    OrderRequest("BTCUSDT", "BUY", "LIMIT", D("0.01"), D("30052.0"), time_in_force="FOK")
                )
                assert fok.status == "FILLED" and D("30051.6") <= fok.avg_price <= D("30052")
                with pytest.raises(OrderRejected) as post_only:
                    await client.new_order(
                        OrderRequest("BTCUSDT", "BUY", "LIMIT", D("0.01"), D("30100.0"), time_in_force="GTX")
                    )
                assert post_only.value.code == -5022
                with pytest.raises(OrderRejected) as reduce:
                    await client.new_order(
                        OrderRequest("BTCUSDT", "BUY", "MARKET", D("0.01"), reduce_only=True)
                    )
                assert reduce.value.code == -2022

        run(scenario)


def test_batch_orders_answer_each_order_in_input_order() -> None:
    with local_exchange() as (server, _):

        async def scenario() -> None:
            async with await ready_client(server) as client:
                good = OrderRequest("BTCUSDT", "BUY", "LIMIT", D("0.01"), D("29900.0"), time_in_force="GTC")
                post_only = OrderRequest(
                    "BTCUSDT", "BUY", "LIMIT", D("0.01"), D("30100.0"), time_in_force="GTX"
                )
                results = await client.batch_orders([good, post_only, good])
                first, refused, third = results
                assert isinstance(first, Order) and isinstance(third, Order)
                assert (first.status, third.status) == ("NEW", "NEW")
                assert isinstance(refused, OrderRejected) and refused.code == -5022
                await client.cancel_all("BTCUSDT")
                assert await client.open_orders("BTCUSDT") == []

        run(scenario)


def test_stop_and_take_profit_market_orders_fire_when_the_bar_reaches_them() -> None:
    with local_exchange() as (server, clock):

        async def scenario() -> None:
            async with await ready_client(server) as client:
                await client.new_order(OrderRequest("BTCUSDT", "BUY", "MARKET", D("0.02")))
                stop = await client.new_order(
                    OrderRequest(
                        "BTCUSDT", "SELL", "STOP_MARKET", stop_price=D("29980.0"), close_position=True
                    )
                )
                assert stop.status == "NEW"
                with pytest.raises(OrderRejected) as at_once:
                    await client.new_order(
                        OrderRequest("BTCUSDT", "SELL", "STOP_MARKET", D("0.01"), stop_price=D("30060.0"))
                    )
                assert at_once.value.code == -2021
                clock.advance(3600)  # bar 5's low 29950 reaches the stop
                await in_thread(server.sync)
                fired = await client.get_order("BTCUSDT", order_id=stop.order_id)
                assert (fired.status, fired.executed_qty) == ("FILLED", D("0.02"))
                (pos,) = await client.positions("BTCUSDT")
                assert pos.amount == 0
                # a take-profit sell fires when the bar trades up to it: bar 6 reaches 30160
                await client.new_order(OrderRequest("BTCUSDT", "BUY", "MARKET", D("0.02")))
                take = await client.new_order(
                    OrderRequest("BTCUSDT", "SELL", "TAKE_PROFIT_MARKET", D("0.02"), stop_price=D("30160.0"),
                                 reduce_only=True)
                )  # fmt: skip
                clock.advance(3600)
                await in_thread(server.sync)
                taken = await client.get_order("BTCUSDT", order_id=take.order_id)
                assert (taken.status, taken.executed_qty) == ("FILLED", D("0.02"))
                assert [p.amount for p in await client.positions("BTCUSDT")] == [0]

        run(scenario)


def test_user_stream_reports_orders_fills_and_the_wallet() -> None:
    with local_exchange() as (server, clock):
        events: list[dict[str, Any]] = []

        async def scenario() -> None:
            async with await ready_client(server) as client:
                stream = UserDataStream(client, server.ws_url, events.append)
                await stream.start()
                order = await client.new_order(OrderRequest("BTCUSDT", "BUY", "MARKET", D("0.03")))
                await eventually(lambda: len(events) >= 3, what="three events")
                kinds = [(e["e"], e.get("o", {}).get("x"), e.get("a", {}).get("m")) for e in events]
                assert kinds == [
                    ("ORDER_TRADE_UPDATE", "NEW", None),
                    ("ORDER_TRADE_UPDATE", "TRADE", None),
                    ("ACCOUNT_UPDATE", None, "ORDER"),
                ]
                assert events[1]["o"]["i"] == order.order_id and events[1]["o"]["X"] == "FILLED"
                (balance,) = await client.balance()
                await stream.settled()
                assert stream.view.wallet == balance.wallet_balance
                assert stream.view.positions["BTCUSDT"][0] == D("0.03")
                assert not stream.view.open_orders()
                await stream.stop()

        run(scenario)
        assert clock.ms() == T0 + 5 * H


def test_market_data_and_account_calls_return_typed_results() -> None:
    funding = pd.DataFrame({"timestamp": [T0 + 8 * H], "funding_rate": [0.0001]})
    with local_exchange(funding=funding, at_bar=9) as (server, _):

        async def scenario() -> None:
            async with await ready_client(server) as client:
                klines = await client.klines("BTCUSDT", "1h", start_ms=T0 + 2 * H, limit=2)
                # flat_bars bar 2: open 30020, high 30120, low 29920, close 30030
                assert [row[:5] for row in klines] == [
                    [T0 + 2 * H, "30020", "30120", "29920", "30030"],
                    [T0 + 3 * H, "30030", "30130", "29930", "30040"],
                ]
                assert await client.klines("BTCUSDT", "1h", mark=True) == []  # no mark series was given
                assert await client.funding_rates("BTCUSDT") == [
                    {"symbol": "BTCUSDT", "fundingTime": T0 + 8 * H, "fundingRate": "0.0001"}
                ]
                ticker = await client.book_ticker("BTCUSDT")
                # bar 9 opens at 30090; half a spread of 0.5 bp either side, on the 0.1 tick
                assert (ticker.bid_price, ticker.ask_price) == (D("30088.4"), D("30091.6"))
                index = await client.premium_index("BTCUSDT")
                assert (index.mark_price, index.last_funding_rate) == (D("30090"), D("0.0001"))
                await client.new_order(OrderRequest("BTCUSDT", "BUY", "MARKET", D("0.1")))
                account = await client.account()
                (balance,) = await client.balance()
                assert account.total_wallet_balance == balance.wallet_balance < D("10000")
                assert account.total_initial_margin == D("0.1") * D("30090") / 20
                await client.change_margin_type("BTCUSDT", "CROSSED")  # already so: -4046 counts as success
                await client.set_position_mode(hedge=False)  # already one-way: -4059 counts as success
                with pytest.raises(BadRequest) as hedge:
                    await client.set_position_mode(hedge=True)
                assert hedge.value.code == -1130
                assert [i.income_type for i in await client.income()] == ["TRANSFER", "COMMISSION"]

        run(scenario)
