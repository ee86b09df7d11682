"""The local exchange verifies V3 and V1 signatures as Aster does: both signed forms pass; a tampered
parameter, a wrong or unauthorised signer, a stale, reused or expired nonce and an expired timestamp are each
refused with Aster's code and message."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import unquote_plus, urlencode

import httpx
import pytest

from asterrl.exchange.local import ScaledClock
from asterrl.exchange.local.auth import NONCES_KEPT
from asterrl.exchange.models import OrderRequest
from asterrl.exchange.signing import HmacSigner, V3Signer, address_of
from tests.exchange.venue import (
    SIGNER_KEY,
    STRANGER_KEY,
    T0,
    USER,
    V1_KEY,
    V1_SECRET,
    H,
    local_exchange,
    ready_client,
    run,
)

WINDOW_MS = 10_000
#: A client order id with characters that URL encoding changes (':' and '/').
ORDER = [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"),
         ("quantity", "0.01"), ("price", "29000.0")]  # fmt: skip


def v3_body(
    nonce: int, extra: list[tuple[str, str]] | None = None, key: str = SIGNER_KEY, signer: str | None = None,
    raw: bool = False,
) -> str:  # fmt: skip
    pairs = [
        *ORDER,
        *(extra or []),
        ("nonce", str(nonce)),
        ("user", USER),
        ("signer", signer or address_of(key)),
    ]
    text = urlencode(pairs)
    signed = unquote_plus(text) if raw else text
    return f"{text}&signature={V3Signer(key).sign(signed)}"


def post(
    base: str, path: str, body: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, object]]:
    hdrs = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    response = httpx.post(base + path, content=body.encode(), headers=hdrs, timeout=5.0)
    return response.status_code, response.json()


@pytest.fixture
def exchange():  # type: ignore[no-untyped-def]
    clock = ScaledClock(T0 + 5 * H + 60_000, speed=1.0)  # real time inside bar 5
    with local_exchange(clock=clock, nonce_window_ms=WINDOW_MS) as (server, _):
        yield server, clock


def test_uri_encoded_and_raw_signatures_are_both_accepted(exchange) -> None:  # type: ignore[no-untyped-def]
    server, clock = exchange
    for n, raw in enumerate((False, True)):
        body = v3_body(clock.ms() * 1000 + n, [("newClientOrderId", f"grid:leg/{n}")], raw=raw)
        assert "%3A" in body and "grid:leg" not in body  # what is sent is URI-encoded either way
        status, answer = post(server.base_url, "/fapi/v3/order", body)
        assert (status, answer["clientOrderId"]) == (200, f"grid:leg/{n}")

    async def through_the_client() -> list[str]:
        ids = []
        for encoding in ("uri", "raw"):
            async with await ready_client(server, encoding=encoding) as client:
                req = OrderRequest("BTCUSDT", "BUY", "LIMIT", Decimal("0.01"), Decimal("29000.0"),
                                   time_in_force="GTC", client_order_id=f"c:{encoding}/x")  # fmt: skip
                ids.append((await client.new_order(req)).client_order_id)
        return ids

    assert run(through_the_client) == ["c:uri/x", "c:raw/x"]


def test_refusals_carry_asters_codes_and_messages(exchange) -> None:  # type: ignore[no-untyped-def]
    server, clock = exchange
    now_us = clock.ms() * 1000

    tampered = v3_body(now_us).replace("quantity=0.01", "quantity=0.02")
    assert post(server.base_url, "/fapi/v3/order", tampered) == (
        400, {"code": -1022, "msg": "Signature for this request is not valid."})  # fmt: skip
    # signed by another key than the signer named in the request
    wrong = v3_body(now_us + 1, key=STRANGER_KEY, signer=address_of(SIGNER_KEY))
    assert post(server.base_url, "/fapi/v3/order", wrong)[1]["code"] == -1022
    # a correctly signed request from an API wallet the user never authorised
    stranger = v3_body(now_us + 2, key=STRANGER_KEY)
    assert post(server.base_url, "/fapi/v3/order", stranger) == (
        401, {"code": -1002, "msg": "You are not authorized to execute this request."})  # fmt: skip
    stale = v3_body(now_us - (WINDOW_MS + 5_000) * 1000)
    status, body = post(server.base_url, "/fapi/v3/order", stale)
    assert (status, body["code"]) == (400, -1021)
    fresh = v3_body(now_us + 3)
    assert post(server.base_url, "/fapi/v3/order", fresh)[0] == 200
    assert post(server.base_url, "/fapi/v3/order", fresh) == (
        400,
        {"code": -4225, "msg": "Nonce is duplicated."},
    )


def test_a_nonce_below_the_kept_hundred_is_expired(exchange) -> None:  # type: ignore[no-untyped-def]
    server, clock = exchange
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    with httpx.Client(base_url=server.base_url, timeout=5.0) as http:
        first = clock.ms() * 1000
        for i in range(NONCES_KEPT):
            response = http.post("/fapi/v3/order", content=v3_body(first + i).encode(), headers=headers)
            assert response.status_code == 200, response.json()
        # within the time window, but older than every one of the 100 nonces kept
        late = http.post("/fapi/v3/order", content=v3_body(first - 1).encode(), headers=headers)
    assert (late.status_code, late.json()) == (400, {"code": -4225, "msg": "Nonce Expired"})


def test_v1_hmac_auth_rules(exchange) -> None:  # type: ignore[no-untyped-def]
    server, clock = exchange
    signer = HmacSigner(V1_KEY, V1_SECRET)
    header = {"X-MBX-APIKEY": V1_KEY}

    def body(timestamp: int, window: int = 5000) -> str:
        text = urlencode([*ORDER, ("recvWindow", str(window)), ("timestamp", str(timestamp))])
        return f"{text}&signature={signer.sign(text)}"

    now = clock.ms()
    assert post(server.base_url, "/fapi/v1/order", body(now), header)[0] == 200
    # the signature goes in the query string and the rest in the body: HMAC over query + body, no '&'
    query = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC"
    rest = f"quantity=0.01&price=29000.0&recvWindow=5000&timestamp={now}"
    mixed = httpx.post(f"{server.base_url}/fapi/v1/order?{query}&signature={signer.sign(query + rest)}",
                       content=rest.encode(), timeout=5.0,
                       headers={**header, "Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert mixed.status_code == 200
    assert (
        post(server.base_url, "/fapi/v1/order", body(now).replace("0.01", "0.02"), header)[1]["code"] == -1022
    )
    assert post(server.base_url, "/fapi/v1/order", body(now - 6000), header) == (
        400, {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."})  # fmt: skip
    assert post(server.base_url, "/fapi/v1/order", body(now + 5000), header)[1]["code"] == -1021
    assert post(server.base_url, "/fapi/v1/order", body(now))[1]["code"] == -2014
    assert post(server.base_url, "/fapi/v1/order", body(now), {"X-MBX-APIKEY": "nope"})[1]["code"] == -2015
