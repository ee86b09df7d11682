"""``Instrument``: parsing the exchange's JSON (reference §10, §14), rounding to the grid, validation."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from asterrl.errors import ConfigError
from asterrl.sim.instrument import Instrument, MarginTier

# The ASTERUSDT row of the reference's real exchangeInfo snapshot (§10), in wire form.
ASTER_ENTRY: dict[str, Any] = {
    "symbol": "ASTERUSDT",
    "contractType": "PERPETUAL",
    "pricePrecision": 4,
    "quantityPrecision": 2,
    "liquidationFee": "0.025000",
    "marketTakeBound": "0.05",
    "filters": [
        {"filterType": "PRICE_FILTER", "minPrice": "0.0001", "maxPrice": "200", "tickSize": "0.0001"},
        {"filterType": "LOT_SIZE", "stepSize": "0.01", "maxQty": "2000000", "minQty": "0.01"},
        {"filterType": "MARKET_LOT_SIZE", "stepSize": "0.01", "maxQty": "200000", "minQty": "0.01"},
        {"filterType": "MAX_NUM_ORDERS", "limit": 200},
        {"filterType": "MIN_NOTIONAL", "notional": "5"},
        {
            "filterType": "PERCENT_PRICE",
            "multiplierUp": "1.0500",
            "multiplierDown": "0.9500",
            "multiplierDecimal": 4,
        },
    ],
}
# The reference's TRUTHUSDT /leverageBracket example (§9): 50x to 5000 USDT at 1 %, then 20x at 2.5 %, cum 75.
TRUTH_BRACKETS = [
    {
        "symbol": "TRUTHUSDT",
        "brackets": [
            {"bracket": 1, "initialLeverage": 50, "notionalCap": 5000, "notionalFloor": 0,
             "maintMarginRatio": 0.01, "cum": 0.0},
            {"bracket": 2, "initialLeverage": 20, "notionalCap": 10000, "notionalFloor": 5000,
             "maintMarginRatio": 0.025, "cum": 75.0},
        ],
    }
]  # fmt: skip


def _aster() -> Instrument:
    brackets = [{**TRUTH_BRACKETS[0], "symbol": "ASTERUSDT"}]
    return Instrument.from_exchange_info(ASTER_ENTRY, brackets)


def test_exchange_info_filters_are_read_as_the_reference_lists_them() -> None:
    inst = _aster()
    assert (inst.tick_size, inst.step_size, inst.min_qty, inst.max_qty) == (0.0001, 0.01, 0.01, 2_000_000.0)
    assert (inst.market_step_size, inst.market_max_qty, inst.min_notional) == (0.01, 200_000.0, 5.0)
    assert (inst.min_price, inst.max_price) == (0.0001, 200.0)
    assert inst.percent_price is not None
    assert (inst.percent_price.multiplier_up, inst.percent_price.multiplier_down) == (1.05, 0.95)
    assert (inst.liquidation_fee, inst.market_take_bound) == (0.025, 0.05)
    assert (inst.price_precision, inst.quantity_precision) == (4, 2)
    assert inst.source["tick_size"] == "exchangeInfo PRICE_FILTER.tickSize"


def test_leverage_brackets_become_tiers_with_an_open_last_cap() -> None:
    inst = _aster()
    assert inst.brackets == (
        MarginTier(0.0, 5000.0, 0.01, 0.0, 50.0),
        MarginTier(5000.0, math.inf, 0.025, 75.0, 20.0),
    )
    assert inst.max_notional == 10_000.0  # the published last cap
    assert inst.max_leverage == 50.0
    table = inst.bracket_table()
    assert table.dtype == np.float64 and table.shape == (2, 5)
    assert table[1].tolist() == [5000.0, math.inf, 0.025, 75.0, 20.0]
    # Continuity the exchange's cum guarantees: 5000 * 1 % = 5000 * 2.5 % - 75 = 50 USDT.
    assert inst.brackets[1].maintenance_margin(5000.0) == pytest.approx(50.0)


def test_each_answer_shape_of_the_bracket_endpoint_parses_the_same() -> None:
    brackets = [{**TRUTH_BRACKETS[0], "symbol": "ASTERUSDT"}]
    as_object = Instrument.from_exchange_info(ASTER_ENTRY, brackets[0])
    bare = Instrument.from_exchange_info(ASTER_ENTRY, brackets[0]["brackets"])
    assert as_object == bare == _aster()


def test_missing_brackets_are_refused_unless_a_fallback_is_given() -> None:
    with pytest.raises(ConfigError, match="no leverage brackets"):
        Instrument.from_exchange_info(ASTER_ENTRY, None)
    tiers = (MarginTier(0.0, math.inf, 0.02, 0.0, 10.0),)
    inst = Instrument.from_exchange_info(ASTER_ENTRY, None, fallback_brackets=tiers)
    assert inst.max_leverage == 10.0 and inst.source["brackets"].startswith("fallback")


@pytest.mark.parametrize(
    ("tick", "price", "side", "expected"),
    [
        (0.00001, 0.123456, 1.0, 0.12345),  # DOGE-like: a buy never pays above its price
        (0.00001, 0.123451, -1.0, 0.12346),  # a sell never sells below it
        (1e-7, 0.0012345678, 1.0, 0.0012345),  # 1000PEPE-like
        (1e-7, 0.0012345678, -1.0, 0.0012346),
        (0.1, 40_000.07, 0.0, 40_000.1),
    ],
)
def test_prices_round_exactly_to_the_tick(tick: float, price: float, side: float, expected: float) -> None:
    inst = Instrument("X", tick, 1.0, 1.0, 1e9, 5.0, (MarginTier(0.0, math.inf, 0.01, 0.0, 20.0),))
    assert inst.round_price(price, side) == expected  # exact: decimal arithmetic, no float noise


def test_quantities_round_towards_zero_to_the_step() -> None:
    inst = Instrument("X", 0.1, 0.001, 0.001, 100.0, 5.0, (MarginTier(0.0, math.inf, 0.01, 0.0, 20.0),))
    assert inst.round_qty(0.3) == 0.3  # 0.3 / 0.001 is 299.999... in floats
    assert inst.round_qty(-0.0379) == -0.037
    assert inst.round_qty(0.0009) == 0.0


def test_to_dict_and_from_dict_round_trip() -> None:
    inst = _aster()
    again = Instrument.from_dict(inst.to_dict())
    assert again == inst
    assert again.source["tick_size"] == inst.source["tick_size"]
    assert inst.to_dict()["brackets"][-1]["notional_cap"] == "inf"


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"tick_size": 0.0}, "tick_size"),
        ({"tick_size": "abc"}, "tick_size"),
        ({"step_size": True}, "step_size"),
        ({"min_notional": -1.0}, "min_notional"),
        ({"max_qty": 0.001}, "max_qty"),
        ({"liquidation_fee": 0.7}, "liquidation_fee"),
        ({"price_precision": 2.5}, "price_precision"),
        ({"contract_kind": "FUTURE"}, "contract_kind"),
        ({"max_leverage": 200.0}, "max_leverage"),
        ({"tick": 0.1}, "'tick'"),
        ({"brackets": []}, "brackets"),
    ],
)
def test_from_dict_names_the_bad_field(change: dict[str, Any], key: str) -> None:
    raw = {**_aster().to_dict(), **change}
    with pytest.raises(ConfigError, match=key) as caught:
        Instrument.from_dict(raw)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("tier", "what"),
    [
        ({"maint_amount": 10.0}, "discontinuous"),
        ({"notional_floor": 4000.0}, "notional_floor"),
        ({"maint_margin_rate": 0.005}, "maint_margin_rate"),
        ({"max_leverage": 75.0}, "max_leverage"),
    ],
)
def test_bad_tiers_are_refused(tier: dict[str, Any], what: str) -> None:
    raw = _aster().to_dict()
    raw["brackets"][1].update(tier)
    with pytest.raises(ConfigError, match=what):
        Instrument.from_dict(raw)
