"""Signing reproduces the reference's worked vectors byte for byte and agrees with eth-account; nonces never
repeat across threads, restarts and processes."""

from __future__ import annotations

import multiprocessing
import random
import threading
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from asterrl.errors import ConfigError
from asterrl.exchange.nonce import NonceSource
from asterrl.exchange.signing import (
    MAINNET_CHAIN_ID,
    TESTNET_CHAIN_ID,
    HmacSigner,
    V3Signer,
    address_of,
    domain_separator,
    message_struct_hash,
    recover_signer,
    typed_data_digest,
)

# Reference §4.1 (the docs' HMAC example, reproduced there with openssl).
V1_SECRET = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"
V1_QUERY = (
    "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC"
    "&recvWindow=5000&timestamp=1591702613943"
)
V1_SIG = "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"
V1_MIXED_QUERY = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC"
V1_MIXED_BODY = "quantity=1&price=9000&recvWindow=5000&timestamp=1591702613943"
V1_MIXED_SIG = "30baaf0fab549bbeda7f5ef201898b34122da25fd23c646cac2c529aebe670a4"

# Reference §4.2 (the docs' public demo key).
DEMO_KEY = "0x4fd0a42218f3eae43a6ce26d22544e986139a01e5b34a62db53757ffca81bae1"
DEMO_SIGNER = "0x21cF8Ae13Bb72632562c6Fff438652Ba1a151bb0"
DEMO_USER = "0x63DD5aCC6b1aa0f563956C0e534DD30B6dcF7C4e"
ORDER_MSG = (
    "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=60000&nonce=1748310859508867"
    f"&user={DEMO_USER}&signer={DEMO_SIGNER}"
)
EMPTY_MSG = f"nonce=1748310859508867&user={DEMO_USER}&signer={DEMO_SIGNER}"


def test_v1_hmac_vectors() -> None:
    signer = HmacSigner("any-key", V1_SECRET)
    assert signer.sign(V1_QUERY) == V1_SIG
    # the mixed example: query string directly followed by the body, no '&' between them
    assert signer.sign(V1_MIXED_QUERY + V1_MIXED_BODY) == V1_MIXED_SIG


def test_v3_mainnet_vector_byte_for_byte() -> None:
    assert domain_separator(MAINNET_CHAIN_ID).hex() == (
        "a95d0a7a6f3f17fcebb0c2336645385ce79cde7523f71ab147fdb7f15e9f37f9"
    )
    assert message_struct_hash(ORDER_MSG).hex() == (
        "e96e92c21e1dcf9d2e0d85b7105df25c67bf905a562210f374ebff9fd80bcc69"
    )
    assert typed_data_digest(ORDER_MSG, MAINNET_CHAIN_ID).hex() == (
        "f929c4594a19fda73edec6652c5ef5c6b8f005a4ce57ec2de8f2fb74f9990e7f"
    )
    signer = V3Signer(DEMO_KEY, MAINNET_CHAIN_ID, prefix_0x=True)
    assert signer.address == DEMO_SIGNER
    assert signer.sign(ORDER_MSG) == (
        "0x6c27e768c389f0bfef4cc96e6b40505824435692c988e579a7d389f98d482409"
        "632cc302a5e818214d27dd6967691330272429ad0321a61b6bcd0ca687d6dc1e1b"
    )


def test_v3_testnet_and_empty_parameter_vectors() -> None:
    assert domain_separator(TESTNET_CHAIN_ID).hex() == (
        "fad01b07bed5729a04dbb977fd86da612eba71d668660bf12cf10b3d65b74d94"
    )
    assert V3Signer(DEMO_KEY, TESTNET_CHAIN_ID).sign(ORDER_MSG) == (
        "a8ed6e950b7f8b6fe2b78697fa88786d72cc0e77ee1e10c804505e3f01108a07"
        "4131fdf1e46c2d0e4c1646fd47de86027b23213b5af0b2b0d5bdca57271781b01b"
    )
    assert V3Signer(DEMO_KEY, MAINNET_CHAIN_ID).sign(EMPTY_MSG) == (
        "79f8910c6a2d14796480f5bc09492b9cf00e247bc53b2cc9b47e3b59dfe698b9"
        "2e9e9a6853c210ae67ffa351b09d84a14a0585122f2fba2c90b2998e3e96e3b81b"
    )


def _eth_account_signature(key: str, msg: str, chain_id: int) -> str:
    typed = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Message": [{"name": "msg", "type": "string"}],
        },
        "primaryType": "Message",
        "domain": {
            "name": "AsterSignTransaction",
            "version": "1",
            "chainId": chain_id,
            "verifyingContract": "0x0000000000000000000000000000000000000000",
        },
        "message": {"msg": msg},
    }
    return bytes(Account.sign_message(encode_typed_data(full_message=typed), key).signature).hex()


def test_fast_signing_agrees_with_eth_account_over_many_draws() -> None:
    rng = random.Random(7)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEF0123456789=&%._-:/[]{}\"', é€"
    signatures = set()
    for _ in range(40):
        key = "0x" + rng.getrandbits(256).to_bytes(32, "big").hex()
        msg = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300)))
        chain = rng.choice([MAINNET_CHAIN_ID, TESTNET_CHAIN_ID, 56])
        ours = V3Signer(key, chain).sign(msg)
        assert ours == _eth_account_signature(key, msg, chain)
        assert V3Signer(key, chain).address == Account.from_key(key).address == address_of(key)
        assert recover_signer(msg, ours, chain) == Account.from_key(key).address
        assert recover_signer(msg, "0x" + ours, chain) == Account.from_key(key).address
        assert recover_signer(msg + "x", ours, chain) != Account.from_key(key).address
        signatures.add(ours)
    assert len(signatures) == 40


def test_malformed_signatures_recover_nobody() -> None:
    good = V3Signer(DEMO_KEY).sign(ORDER_MSG)
    for bad in ("", "zz" * 65, good[:-2], good[:-2] + "05", "00" * 65):
        assert recover_signer(ORDER_MSG, bad, MAINNET_CHAIN_ID) is None


def test_bad_keys_are_one_line_errors_without_the_key() -> None:
    for bad in ("0x1234", "not hex at all", "0x" + "00" * 32):
        with pytest.raises(ConfigError) as info:
            V3Signer(bad)
        assert bad not in str(info.value) and "\n" not in str(info.value)
    assert "4fd0a4" not in repr(V3Signer(DEMO_KEY)) and V1_SECRET not in repr(HmacSigner("k", V1_SECRET))


def test_nonces_are_unique_and_increasing_across_threads() -> None:
    source = NonceSource(lambda: 1_000_000)  # a frozen clock: uniqueness must come from the counter
    per_thread: list[list[int]] = [[] for _ in range(8)]

    def take(out: list[int]) -> None:
        out.extend(source() for _ in range(2000))

    threads = [threading.Thread(target=take, args=(out,)) for out in per_thread]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [n for out in per_thread for n in out]
    assert len(set(everything)) == 16_000
    assert all(out == sorted(out) for out in per_thread)
    assert min(everything) == 1_000_000 and max(everything) == 1_015_999


def test_nonces_follow_the_clock_when_it_is_ahead() -> None:
    now = [5_000_000]
    source = NonceSource(lambda: now[0])
    first = source()
    now[0] += 2_000_000
    assert (first, source()) == (5_000_000, 7_000_000)


def test_a_restart_never_reissues_a_nonce(tmp_path: Path) -> None:
    state = tmp_path / "signer.nonce"
    clock = [10_000_000]
    first = NonceSource(lambda: clock[0], state)
    issued = [first() for _ in range(5000)]  # runs 5 ms of nonces ahead of the frozen clock
    restarted = NonceSource(lambda: clock[0], state)  # same clock reading after the "restart"
    assert restarted() > max(issued)
    state.write_text("garbage")
    with pytest.raises(ConfigError, match="corrupt"):
        NonceSource(lambda: clock[0] + 10**9, state)()


def _draw(path: str, count: int, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    source = NonceSource(lambda: 1_000_000, path, block_us=50)
    queue.put([source() for _ in range(count)])


@pytest.mark.slow
def test_two_processes_sharing_a_signer_never_collide(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue = ctx.Queue()  # type: ignore[type-arg]
    path = str(tmp_path / "shared.nonce")
    procs = [ctx.Process(target=_draw, args=(path, 3000, queue)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert len(set(results[0]) | set(results[1])) == 6000
