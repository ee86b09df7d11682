"""Deterministic client order ids: Aster's format, one id per (run, bar, leg, attempt), read back exactly."""

from __future__ import annotations

import numpy as np

from asterrl.live.order_ids import CLIENT_ORDER_ID, OrderKey, parse_client_order_id, run_tag


def test_an_id_spells_run_bar_leg_and_attempt() -> None:
    tag = run_tag("btc-paper-1")
    key = OrderKey(tag, 1_700_000_000_000, 1, 2)
    cid = key.client_order_id()
    run, bar, leg, attempt = cid[1:].split("-")
    assert cid[0] == "a" and run == tag and len(tag) == 8
    assert int(bar, 36) == 1_700_000_000_000 and (int(leg, 36), int(attempt, 36)) == (1, 2)
    assert (
        cid
        == key.client_order_id()
        == OrderKey(run_tag("btc-paper-1"), 1_700_000_000_000, 1, 2).client_order_id()
    )
    assert key.next_attempt().client_order_id().endswith("-1-3")
    assert parse_client_order_id(cid) == key
    assert parse_client_order_id("web_8f3a1c") is None  # an id we did not make (e.g. placed by hand)


def test_ten_thousand_random_keys_give_ten_thousand_valid_distinct_ids() -> None:
    rng = np.random.default_rng(7)
    runs = [run_tag(f"run-{i}") for i in range(20)]
    keys = {
        OrderKey(
            runs[int(rng.integers(20))],
            int(rng.integers(1_500_000_000_000, 2_500_000_000_000)),
            int(rng.integers(0, 1000)),
            int(rng.integers(0, 1000)),
        )
        for _ in range(10_000)
    }
    ids = [k.client_order_id() for k in keys]
    assert len(set(ids)) == len(keys)
    assert all(CLIENT_ORDER_ID.match(i) and len(i) <= 36 for i in ids)
    assert all(parse_client_order_id(i) == k for i, k in zip(ids, keys, strict=True))
    assert len({run_tag(f"run-{i}") for i in range(1000)}) == 1000  # run tags differ between runs
