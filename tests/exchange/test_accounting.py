"""What the local exchange reports equals asterrl.sim's own accounting of the same orders to 1e-9: wallet,
position, entry, realised PnL, fees and funding, through a funding settlement and a liquidation; and its
resting-limit rule is the env's, over many random draws."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from asterrl.data.instruments import load_instrument
from asterrl.exchange.client import AsterClient
from asterrl.exchange.models import OrderRequest
from asterrl.risk.limits import RiskLimits
from asterrl.sim.config import CostConfig, MarketModelConfig
from asterrl.sim.market_arrays import MarketArrays
from asterrl.sim.simulator import PerpSimulator
from tests.exchange.venue import T0, H, in_thread, local_exchange, ready_client, run

COSTS = CostConfig(half_spread_bps=0.5, impact_k=0.1, participation_cap=0.1)
#: Limits that never bind in these scenarios (the exchange has no risk gate): 20x is the account's leverage.
LOOSE = RiskLimits(max_leverage=20.0, max_drawdown=math.inf, max_daily_loss=math.inf,
                   max_orders_per_minute=math.inf, max_data_age_ms=math.inf, price_band=math.inf)  # fmt: skip


def market_frames(
    seed: int, n: int = 30, crash_bar: int | None = 14
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Bars with continuous opens, a mark 2 bp above last, funding every 8 h, a crash in ``crash_bar``."""
    rng = np.random.default_rng(seed)
    closes = 30_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.004, n)))
    opens = np.concatenate(([30_000.0], closes[:-1]))
    spread = np.abs(rng.normal(0.0, 0.004, n)) + 0.001
    highs = np.maximum(opens, closes) * (1.0 + spread)
    lows = np.minimum(opens, closes) * (1.0 - spread)
    if crash_bar is not None:
        lows[crash_bar] = opens[crash_bar] * 0.85
    ts = T0 + H * np.arange(n, dtype=np.int64)
    volume = rng.uniform(800.0, 1200.0, n)
    bars = pd.DataFrame({"timestamp": ts, "open": opens, "high": highs, "low": lows, "close": closes,
                         "volume": volume, "quote_volume": volume * closes})  # fmt: skip
    basis = 1.0002
    mark = pd.DataFrame({"timestamp": ts, "mark_open": opens * basis, "mark_high": highs * basis,
                         "mark_low": lows * basis, "mark_close": closes * basis})  # fmt: skip
    funding = pd.DataFrame({"timestamp": T0 + 8 * H * np.arange(1, 4, dtype=np.int64),
                            "funding_rate": [0.0005, -0.0003, 0.0004]})  # fmt: skip
    return bars, mark, funding


def reference_simulator(
    bars: pd.DataFrame, mark: pd.DataFrame, funding: pd.DataFrame, start: int
) -> PerpSimulator:
    """The sim with the local exchange's rules: its costs, BTCUSDT's filters and margin tiers."""
    data = MarketArrays.from_frames(bars, funding, mark, COSTS, H)
    instrument = load_instrument("BTCUSDT")
    config = MarketModelConfig(COSTS)
    return PerpSimulator(data, instrument, config, LOOSE, initial_balance=10_000.0, start_bar=start)


async def exchange_state(client: AsterClient) -> dict[str, float]:
    (balance,) = await client.balance()
    (pos,) = await client.positions("BTCUSDT")
    income = await client.income(limit=1000)
    by_type = {k: sum(float(i.income) for i in income if i.income_type == k)
               for k in ("REALIZED_PNL", "COMMISSION", "FUNDING_FEE", "INSURANCE_CLEAR")}  # fmt: skip
    return {
        "wallet": float(balance.wallet_balance),
        "position": float(pos.amount),
        "entry": float(pos.entry_price),
        "realized": by_type["REALIZED_PNL"],
        "fees": -by_type["COMMISSION"] - by_type["INSURANCE_CLEAR"],
        "funding": by_type["FUNDING_FEE"],
    }


#: (decision bar, target position in BTC, limit price as a fraction of the next open or None).
PLAN = [
    (3, 0.5, None),
    (4, 0.8, None),
    (5, 0.3, 1.0015),  # a sell limit above the open, inside most bars' range
    (6, 0.3, None),  # hold through the funding settlement at bar 7's close
    (7, 0.3, None),
    (8, -0.4, None),  # flip short
    (9, 0.0, 0.990),  # a buy limit far below: usually rests unfilled and is cancelled
    (10, 3.0, None),  # ~9x long
    (11, 3.0, None),
    (12, 3.0, None),
    (13, 3.0, None),  # bar 14 crashes 15 %: liquidated
]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_exchange_accounting_equals_the_sim_through_funding_and_liquidation(seed: int) -> None:
    bars, mark, funding = market_frames(seed)
    sim = reference_simulator(bars, mark, funding, start=3)
    expected: list[dict[str, float]] = []
    totals = {"realized": 0.0, "fees": 0.0, "funding": 0.0}
    liquidated_at = None
    for t, target, limit in PLAN:
        before = sim.wallet
        price = None if limit is None else round(float(bars["open"][t + 1]) * limit, 1)
        report = sim.step(target, price)
        totals["fees"] += report["fee"]
        totals["funding"] += report["funding"]
        totals["realized"] += sim.wallet - before + report["fee"] - report["funding"]
        expected.append({"wallet": sim.wallet, "position": sim.position, "entry": sim.entry_price, **totals})
        if report["liquidated"]:
            liquidated_at = t
            break
    assert liquidated_at == 13 and totals["funding"] != 0.0

    with local_exchange(bars, funding=funding, mark=mark, at_bar=4, costs=COSTS) as (server, clock):

        async def scenario() -> list[dict[str, float]]:
            seen = []
            async with await ready_client(server) as client:
                position = 0.0
                for t, target, limit in PLAN[: len(expected)]:
                    assert clock.ms() == T0 + (t + 1) * H
                    order = round(target - position, 3)
                    cid = None
                    if order != 0.0:
                        side = "BUY" if order > 0 else "SELL"
                        qty = Decimal(repr(abs(order)))
                        if limit is None:
                            req = OrderRequest("BTCUSDT", side, "MARKET", qty)
                        else:
                            price = Decimal(repr(round(float(bars["open"][t + 1]) * limit, 1)))
                            req = OrderRequest("BTCUSDT", side, "LIMIT", qty, price, time_in_force="GTC")
                        cid = (await client.new_order(req)).client_order_id
                    clock.advance(3600)
                    await in_thread(server.sync)
                    if cid is not None and (await client.get_order("BTCUSDT", client_order_id=cid)).is_open:
                        await client.cancel_order(
                            "BTCUSDT", client_order_id=cid
                        )  # a one-bar limit, as in the env
                    state = await exchange_state(client)
                    position = state["position"]
                    seen.append(state)
            return seen

        seen = run(scenario)
    assert len(seen) == len(expected)
    for got, want in zip(seen, expected, strict=True):
        for key in want:
            assert got[key] == pytest.approx(want[key], abs=1e-9), key
    assert seen[-1]["position"] == 0.0 and seen[-1]["fees"] > seen[-2]["fees"]  # the liquidation fee


LIMIT_DRAWS = range(24)


def limit_draw(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, float, float, float]:
    """A one-bar limit order at bar 6's open: ``(bars, mark, funding, side, price, qty)``, the price within
    1.2 % of the open either way (marketable or resting), the quantity 0.01-0.5 BTC."""
    rng = np.random.default_rng(100 + seed)
    bars, mark, funding = market_frames(seed, n=12, crash_bar=None)
    side = float(rng.choice([-1.0, 1.0]))
    price = round(float(bars["open"][6]) * (1.0 + rng.uniform(-0.012, 0.012)), 1)
    qty = round(float(rng.uniform(0.01, 0.5)), 3)
    return bars, mark, funding, side, price, qty


def test_the_limit_draws_reach_every_branch_of_the_rule() -> None:
    """The draws below are not vacuous: some fill as takers, some rest and fill whole or in part as makers
    (the queue haircut), some do not fill."""
    kinds = set()
    for seed in LIMIT_DRAWS:
        bars, mark, funding, side, price, qty = limit_draw(seed)
        report = reference_simulator(bars, mark, funding, start=5).step(side * qty, price)
        filled, maker = abs(report["fill_qty"]), report["maker_qty"]
        kinds.add(
            "none"
            if filled == 0.0
            else "taker"
            if maker == 0.0
            else "whole"
            if abs(maker - qty) < 1e-9
            else "part"
        )
    assert kinds == {"none", "taker", "whole", "part"}


@pytest.mark.parametrize("seed", LIMIT_DRAWS)
def test_resting_limit_orders_fill_by_the_envs_rule(seed: int) -> None:
    """A one-bar limit order: the exchange's fill (or none) equals the sim's for random prices and sides."""
    bars, mark, funding, side, price, qty = limit_draw(seed)
    sim = reference_simulator(bars, mark, funding, start=5)
    sim.step(side * qty, price)

    with local_exchange(bars, funding=funding, mark=mark, at_bar=6, costs=COSTS) as (server, clock):

        async def scenario() -> tuple[float, float]:
            async with await ready_client(server) as client:
                req = OrderRequest("BTCUSDT", "BUY" if side > 0 else "SELL", "LIMIT", Decimal(repr(qty)),
                                   Decimal(repr(price)), time_in_force="GTC")  # fmt: skip
                await client.new_order(req)
                clock.advance(3600)
                await in_thread(server.sync)
                state = await exchange_state(client)
                return state["wallet"], state["position"]

        wallet, position = run(scenario)
    assert position == pytest.approx(sim.position, abs=1e-12)
    assert wallet == pytest.approx(sim.wallet, abs=1e-9)
