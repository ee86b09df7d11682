"""The Aster client's own steps on the order path, off the network, for ``benchmarks/exchange.py``.

``client_parts`` times the checks and signing, reading an acknowledgement and the user stream's handling of
one order's events; ``signing_peer`` times our V3 signature beside eth-account's generic typed-data path.
Run through ``benchmarks/exchange.py``.
"""

from __future__ import annotations

import json
import math
import time
from decimal import Decimal

#: The reference's demo signer key and user (reference section 4.2): a test account, no funds anywhere.
KEY = "0x4fd0a42218f3eae43a6ce26d22544e986139a01e5b34a62db53757ffca81bae1"
USER = "0x63DD5aCC6b1aa0f563956C0e534DD30B6dcF7C4e"


async def client_parts(messages: list[str], n: int = 1000) -> dict[str, float]:
    """Client CPU (us, the fastest of 5 runs of ``n``) of the order path's own steps, off the network: the
    checks and the signed parameter string, reading the acknowledgement, and the user stream's handling of
    one order's three events (``messages``, renumbered so none repeats)."""
    from asterrl.data.instruments import load_instrument
    from asterrl.exchange.client import AsterClient
    from asterrl.exchange.models import Order, OrderRequest
    from asterrl.exchange.rest import ClientConfig, V3Credentials
    from asterrl.exchange.user_stream import UserDataStream

    client = AsterClient(ClientConfig("http://127.0.0.1:9"), V3Credentials(USER, KEY))
    client.instruments["BTCUSDT"] = load_instrument("BTCUSDT")
    stream = UserDataStream(client, "ws://127.0.0.1:9")
    ack = json.dumps({"orderId": 8000000201, "clientOrderId": "ar0a1b2c3d-1", "symbol": "BTCUSDT",
                      "status": "NEW", "side": "BUY", "type": "MARKET", "timeInForce": "GTC", "price": "0",
                      "avgPrice": "0", "origQty": "0.001", "executedQty": "0", "cumQuote": "0",
                      "stopPrice": "0", "reduceOnly": False, "closePosition": False,
                      "updateTime": 1700000000000})  # fmt: skip
    events = [json.loads(m) for m in messages]
    texts = []
    for k in range(6 * n):
        for event in events:
            event["E"] += 1
            if "o" in event:
                event["o"]["i"] = k
            texts.append(json.dumps(event))

    def entry() -> None:
        req = OrderRequest("BTCUSDT", "BUY", "MARKET", Decimal("0.001"), client_order_id="ar0a1b2c3d-1")
        client.check(req)
        client.rest.sign([*req.params(), ("newOrderRespType", "ACK")], "TRADE")

    def answer() -> None:
        Order.from_json(json.loads(ack))

    position = 0

    def user_stream() -> None:
        nonlocal position
        for text in texts[position : position + len(events)]:
            stream.connection.last_raw = text
            stream._on_message(json.loads(text))
        position += len(events)

    out = {}
    for name, step in (("entry", entry), ("answer", answer), ("user_stream", user_stream)):
        best = math.inf
        for _ in range(5):
            cpu = time.process_time()
            for _ in range(n):
                step()
            best = min(best, (time.process_time() - cpu) / n * 1e6)
        out[name] = best
    await client.close()
    return out


def signing_peer(n: int = 2000) -> tuple[float, float]:
    """µs per signature: asterrl's fixed-type EIP-712 over libsecp256k1 vs eth-account's generic path."""
    from eth_account import Account
    from eth_account.messages import encode_typed_data

    from asterrl.exchange.signing import V3Signer

    msg = (
        "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&nonce=1748310859508867&user=0x63DD&signer=0x21cF"
    )
    signer = V3Signer(KEY)
    started = time.perf_counter()
    for _ in range(n):
        signer.sign(msg)
    ours = (time.perf_counter() - started) / n * 1e6
    typed = {
        "types": {"EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                                   {"name": "chainId", "type": "uint256"},
                                   {"name": "verifyingContract", "type": "address"}],
                  "Message": [{"name": "msg", "type": "string"}]},
        "primaryType": "Message",
        "domain": {"name": "AsterSignTransaction", "version": "1", "chainId": 1666,
                   "verifyingContract": "0x0000000000000000000000000000000000000000"},
        "message": {"msg": msg},
    }  # fmt: skip
    started = time.perf_counter()
    for _ in range(n // 4):
        Account.sign_message(encode_typed_data(full_message=typed), KEY)
    peer = (time.perf_counter() - started) / (n // 4) * 1e6
    return ours, peer
