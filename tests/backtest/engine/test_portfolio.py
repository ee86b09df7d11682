"""Several symbols under one account: the cross-asset limits by hand, a one-symbol portfolio equal to the
single-symbol backtest, each symbol on its own instrument, and the correlation limit telling a hedge from a
doubled bet."""

from __future__ import annotations

import dataclasses
import math
from functools import cache

import numpy as np
import pytest

from asterrl.backtest.engine import ActionRule, BacktestSetup, backtest_targets
from asterrl.backtest.engine.layout import Fill, FillKind
from asterrl.backtest.engine.portfolio import (
    PortfolioSetup,
    portfolio_result,
    run_portfolio_targets,
    symbol_attribution,
)
from asterrl.data.instruments import load_instrument
from asterrl.data.market import MarketData, load_market
from asterrl.data.schema import DataKind, Market, SeriesKey
from asterrl.risk.limits import RiskLimits
from asterrl.risk.portfolio import (
    FLAG_GROSS_CLIPPED,
    FLAG_NET_CLIPPED,
    FLAG_SYMBOL_CLIPPED,
    FLAG_VOLATILITY_CLIPPED,
    PortfolioLimits,
    portfolio_notionals,
)
from experiments.config import load_config

RULE = ActionRule(deadband=0.05)


@cache
def _market(symbol: str) -> MarketData:
    span = ["data.start=2022-01-01", "data.end=2022-05-01"]
    cfg = load_config(["data=synthetic", *span, f"data.symbol={symbol}"])
    return load_market(cfg.data, seed=5, show_progress=False)


def test_cross_asset_limits_worked_by_hand() -> None:
    out = np.zeros(3)
    limits = PortfolioLimits(max_symbol_leverage=2.0, max_net_leverage=1.0, max_gross_leverage=1.5).to_array()
    # equity 100: wants +300, +100, -100 USDT
    wanted = np.array([300.0, 100.0, -100.0])
    flags = portfolio_notionals(wanted, 100.0, np.zeros((3, 3)), 8760.0, limits, out)
    # symbol cap 200 -> [200, 100, -100]; net 200 > 100: longs x (100 + 100) / 300 -> [133.3, 66.7, -100];
    # gross 300 > 150: all x 0.5
    np.testing.assert_allclose(out, [200 * 2 / 3 * 0.5, 100 * 2 / 3 * 0.5, -50.0], rtol=1e-12)
    assert flags == FLAG_SYMBOL_CLIPPED | FLAG_NET_CLIPPED | FLAG_GROSS_CLIPPED
    # volatility: per-bar sd 1 % and 2 %, correlation 0.5; 1 x equity in each, cap 100 %/yr
    cov = np.array([[1e-4, 0.5 * 1e-4 * 2], [0.5 * 1e-4 * 2, 4e-4]])
    vol = math.sqrt((1e-4 + 4e-4 + 2 * 1e-4) * 8760.0)  # sqrt(w'Cw) with w = (1, 1)
    capped = PortfolioLimits(max_portfolio_volatility=1.0).to_array()
    out = np.zeros(2)
    flags = portfolio_notionals(np.array([100.0, 100.0]), 100.0, cov, 8760.0, capped, out)
    assert flags == FLAG_VOLATILITY_CLIPPED
    np.testing.assert_allclose(out, [100.0 / vol, 100.0 / vol], rtol=1e-12)


def test_a_portfolio_holding_one_symbol_is_that_symbols_backtest() -> None:
    btc, eth = _market("BTCUSDT"), _market("ETHUSDT")
    risk = RiskLimits(max_leverage=3.0, max_drawdown=0.9, max_daily_loss=0.9)
    portfolio = PortfolioSetup.from_markets([btc, eth], None, risk, None, RULE, start="2022-02-01")
    single = BacktestSetup.from_market(btc, None, risk, RULE, start="2022-02-01")
    rng = np.random.default_rng(2)
    btc_targets = np.repeat(rng.choice([-1.0, 0.0, 0.5, 1.0], single.steps // 24 + 1), 24)[: single.steps]
    targets = np.column_stack([btc_targets, np.zeros(single.steps)])
    run = run_portfolio_targets(portfolio, targets)
    alone, _ = backtest_targets(single, btc_targets, "btc")
    np.testing.assert_allclose(run.equity, alone.equity, rtol=1e-12)
    assert np.count_nonzero(run.fills[:, Fill.ACCOUNT] == 1) == 0
    np.testing.assert_array_equal(run.fills[:, Fill.QUANTITY], alone.fills.quantity)


def test_each_symbol_trades_on_its_own_instrument_and_the_gross_limit_holds() -> None:
    btc, eth = _market("BTCUSDT"), _market("ETHUSDT")
    risk = RiskLimits(max_leverage=5.0)
    cross = PortfolioLimits(max_gross_leverage=2.0)
    setup = PortfolioSetup.from_markets([btc, eth], None, risk, cross, RULE, start="2022-02-01")
    flips = np.repeat(np.random.default_rng(4).choice([-1.0, 1.0], (setup.steps // 48 + 1, 2)), 48, axis=0)
    run = run_portfolio_targets(setup, flips[: setup.steps] * 0.6)  # wants 2 x 3x = 6x gross
    assert np.all(run.flags & FLAG_GROSS_CLIPPED)
    # gross after each bar within 2x of the equity, give or take the drift tolerance (5 %) and a bar's move
    assert np.max(run.gross / run.equity[1:]) < 2.0 * 1.05 * 1.03
    for j, symbol in enumerate(("BTCUSDT", "ETHUSDT")):
        tick = load_instrument(symbol).tick_size
        prices = run.fills[run.fills[:, Fill.ACCOUNT] == j, Fill.PRICE]
        assert prices.size > 10
        np.testing.assert_allclose(prices / tick, np.round(prices / tick), atol=1e-6)
    attribution = symbol_attribution(run)
    result = portfolio_result(run, "pair")
    assert result.symbol == "BTCUSDT+ETHUSDT"
    assert result.fees.sum() == pytest.approx(attribution["fees"].sum(), rel=1e-12)
    np.testing.assert_allclose(result.leverage, run.gross / run.equity[1:], rtol=1e-12)
    np.testing.assert_allclose(result.exposure(), run.net / run.equity[1:], rtol=1e-9)


def _twin(market: MarketData, symbol: str, scale: float) -> MarketData:
    """The same price path as ``market``, scaled, traded as ``symbol`` (a perfectly correlated pair)."""
    bars = market.bars.copy()
    for column in ("open", "high", "low", "close"):
        bars[column] = bars[column] * scale
    bars["volume"] = bars["volume"] / scale
    mark = market.mark.copy() if market.mark is not None else None
    if mark is not None:
        for column in ("mark_open", "mark_high", "mark_low", "mark_close"):
            mark[column] = mark[column] * scale
    key = SeriesKey(DataKind.OHLCV, Market.PERP, symbol, "1h")
    return dataclasses.replace(market, key=key, bars=bars, mark=mark, instrument=load_instrument(symbol))


def test_the_correlation_limit_cuts_a_doubled_bet_and_leaves_a_hedge() -> None:
    btc = _market("BTCUSDT")
    eth = _twin(btc, "ETHUSDT", 1 / 15)
    cross = PortfolioLimits(max_portfolio_volatility=0.3)
    setup = PortfolioSetup.from_markets([btc, eth], None, RiskLimits(max_leverage=3.0), cross, RULE,
                                        start="2022-02-01")  # fmt: skip
    ones = np.ones(setup.steps) * 0.5
    doubled = run_portfolio_targets(setup, np.column_stack([ones, ones]))
    hedged = run_portfolio_targets(setup, np.column_stack([ones, -ones]))
    assert np.mean(doubled.flags & FLAG_VOLATILITY_CLIPPED > 0) > 0.9
    assert np.mean(hedged.flags & FLAG_VOLATILITY_CLIPPED > 0) < 0.05
    assert np.median(hedged.gross / hedged.equity[1:]) > 2.5  # the hedge keeps its 3x gross
    assert np.median(doubled.gross / doubled.equity[1:]) < 1.0  # the same bet twice is cut


def test_a_symbol_closing_its_position_exits_by_order_not_by_liquidation() -> None:
    """BTC held long throughout, ETH in and out every 12 bars at 1x of a 3x scale: each ETH exit is an order
    at the next open (the symbol keeps the margin of what it holds until then), never a liquidation; and
    with no loss limit touched nothing in the account is liquidated at all."""
    btc, eth = _market("BTCUSDT"), _market("ETHUSDT")
    risk = RiskLimits(max_leverage=3.0, max_drawdown=0.9, max_daily_loss=0.9)
    setup = PortfolioSetup.from_markets([btc, eth], None, risk, None, RULE, start="2022-02-01")
    in_and_out = np.where(np.arange(setup.steps) // 12 % 2 == 0, 1.0 / 3.0, 0.0)
    run = run_portfolio_targets(setup, np.column_stack([np.full(setup.steps, 1.0 / 3.0), in_and_out]))
    eth_fills = run.fills[run.fills[:, Fill.ACCOUNT] == 1]
    exits = eth_fills[np.abs(np.cumsum(eth_fills[:, Fill.QUANTITY])) < 1e-12]
    assert exits.shape[0] >= 20  # one per 24 bars over two months
    assert np.all(exits[:, Fill.KIND] == FillKind.ORDER)
    assert np.all(run.fills[:, Fill.KIND] != FillKind.LIQUIDATION)
