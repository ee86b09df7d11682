"""Bad orders are refused by the client before anything is sent, with one line and the code the exchange
would give; the same request sent raw (signed, unchecked) gets exactly that code from the local exchange."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from asterrl.exchange.client import AsterClient
from asterrl.exchange.errors import OrderRefused
from asterrl.exchange.local import SymbolSpec
from asterrl.exchange.models import OrderRequest
from tests.exchange.venue import flat_bars, local_exchange, ready_client, run

D = Decimal

CASES = [
    # unknown symbol
    (OrderRequest("NOPEUSDT", "BUY", "MARKET", D("0.01")), -1121, 0),
    # off-step quantities: more decimals than the 0.001 lot, and a multiple of nothing on a 0.005 lot
    (OrderRequest("BTCUSDT", "BUY", "MARKET", D("0.0015")), -1111, 0),
    (OrderRequest("ETHUSDT", "BUY", "LIMIT", D("0.012"), D("2000.00"), time_in_force="GTC"), -4023, 0),
    # an off-tick price
    (OrderRequest("BTCUSDT", "BUY", "LIMIT", D("0.01"), D("30000.05"), time_in_force="GTC"), -1111, 0),
    # a notional under 5 USDT (0.001 BTC at 4000)
    (OrderRequest("BTCUSDT", "BUY", "LIMIT", D("0.001"), D("4000.0"), time_in_force="GTC"), -4164, 0),
    # 9 BTC at 30000 = 270k USDT: the 250k-1M bracket allows 50x, the account is set to 100x
    (OrderRequest("BTCUSDT", "BUY", "LIMIT", D("9"), D("30000.0"), time_in_force="GTC"), -2027, 100),
    # outside PERCENT_PRICE: a buy more than 2 % above the mark
    (OrderRequest("BTCUSDT", "BUY", "LIMIT", D("0.01"), D("31000.0"), time_in_force="GTC"), -4016, 0),
]


async def send_raw(client: AsterClient, req: OrderRequest) -> tuple[int, dict[str, object]]:
    """POST the order signed but unchecked, the way a careless client would."""
    text, _, headers = client.rest.sign(req.params(), "TRADE")
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    async with httpx.AsyncClient(base_url=client.rest.config.base_url) as http:
        response = await http.post("/fapi/v3/order", content=text.encode(), headers=headers)
    return response.status_code, response.json()


@pytest.mark.parametrize(("req", "code", "leverage"), CASES, ids=[str(c[1]) for c in CASES])
def test_refused_before_sending_and_the_raw_request_gets_the_same_code(
    req: OrderRequest, code: int, leverage: int
) -> None:
    with local_exchange() as (server, _):
        server.book.add_symbol(
            SymbolSpec("ETHUSDT", "ETH", tick_size="0.01", step_size="0.005", min_qty="0.005")
        )
        server.book.add_bars("ETHUSDT", "1h", flat_bars(40, price=2000.0))
        server.open_market("ETHUSDT", "1h")

        async def scenario() -> tuple[OrderRefused, int, dict[str, object], int]:
            async with await ready_client(server) as client:
                if leverage:
                    await client.change_leverage("BTCUSDT", leverage)
                sent_before = len(server.requests)
                with pytest.raises(OrderRefused) as refused:
                    await client.new_order(req)
                sent_between = len(server.requests) - sent_before
                status, body = await send_raw(client, req)
                return refused.value, status, body, sent_between

        refusal, status, body, sent_between = run(scenario)
    assert sent_between == 0  # nothing reached the exchange
    assert refusal.code == code and str(code) in str(refusal) and "\n" not in str(refusal)
    assert req.symbol in str(refusal)
    assert (status, body["code"]) == (400, code)
