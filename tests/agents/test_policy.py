"""Policy protocol, action mapping and the rule agents' lookup through the DecisionContext."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from agents.config import BuyAndHoldConfig, GridConfig, PPOConfig, VolTrendConfig
from agents.policy import ActionMapping, DecisionContext, Policy
from agents.rules import BuyAndHold, GridTrader, PriceSeries, VolTrend
from asterrl.errors import ConfigError, DataError


def _bars(close: list[float]) -> pd.DataFrame:
    c = np.asarray(close)
    return pd.DataFrame(
        {
            "timestamp": np.arange(c.size, dtype=np.int64) * 3_600_000,
            "open": c,
            "high": c + 1.0,
            "low": c - 1.0,
            "close": c,
            "volume": np.ones(c.size),
        }
    )


def test_discrete_mapping_picks_the_nearest_level_and_ties_go_to_the_smaller_position() -> None:
    m = ActionMapping("discrete", (-1.0, -0.5, 0.0, 0.5, 1.0))
    actions = m.to_actions(np.array([0.9, 0.25, -0.75, np.nan, 3.0]))
    # 0.9 -> 1.0 (idx 4); 0.25 is half-way between 0 and 0.5 -> 0 (idx 2); -0.75 -> -0.5 (idx 1);
    # NaN -> flat (idx 2); 3.0 clipped to 1 (idx 4)
    np.testing.assert_array_equal(actions, [4, 2, 1, 2, 4])
    np.testing.assert_allclose(m.to_targets(actions), [1.0, 0.0, -0.5, 0.0, 1.0])


def test_continuous_mapping_is_the_clipped_target() -> None:
    m = ActionMapping("continuous")
    np.testing.assert_allclose(m.to_actions(np.array([0.3, -2.0])), [[0.3], [-1.0]])


def test_rule_agents_are_policies_and_look_up_their_decision_bar() -> None:
    agent = BuyAndHold(BuyAndHoldConfig(leverage=1.5), ActionMapping("continuous", position_scale=3.0))
    assert isinstance(agent, Policy)
    bars = _bars([100.0, 101.0, 102.0])
    agent.prepare(bars)
    ctx = DecisionContext(np.array([0, 2]), bars["timestamp"].to_numpy()[[0, 2]])
    # 1.5x leverage over a 3x scale is a target of 0.5
    np.testing.assert_allclose(agent.act(np.zeros((2, 4), np.float32), ctx), [[0.5], [0.5]])
    with pytest.raises(DataError):
        agent.act(np.zeros((1, 4), np.float32), DecisionContext(np.array([1]), np.array([123])))
    with pytest.raises(ConfigError):
        agent.act(np.zeros((1, 4), np.float32), None)


def test_vol_trend_size_is_target_over_annualised_volatility_in_position_scale_units() -> None:
    # Alternating +-1 % log returns: per-bar RMS volatility 0.01, annualised 0.01 * sqrt(8760) = 0.936.
    n = 40
    logp = np.cumsum(np.where(np.arange(n) % 2 == 0, 0.01, -0.01))
    close = 100.0 * np.exp(logp)
    close[-1] = close[-2] * 1.5  # a breakout on the last bar
    series = PriceSeries(np.arange(n, dtype=np.int64) * 3_600_000, close * 1.001, close * 0.999, close)
    cfg = VolTrendConfig(
        entry_window=10, exit_window=5, vol_window=4, target_volatility=0.5, allow_short=False
    )
    targets = VolTrend(cfg, ActionMapping("continuous", position_scale=2.0)).compute_targets(series)
    assert np.all(targets[:-1] == 0.0)
    # last bar: the window of 4 returns holds the 50 % jump: sqrt((3 * 0.01^2 + ln(1.5)^2) / 4)
    sigma = np.sqrt((3 * 0.01**2 + np.log(1.5) ** 2) / 4) * np.sqrt(8760.0)
    assert targets[-1] == pytest.approx(min(1.0, 0.5 / (sigma * 2.0)))


def test_grid_agent_on_bars_uses_ema_anchor_and_atr_spacing() -> None:
    bars = _bars([100.0] * 30 + [97.0])
    agent = GridTrader(
        GridConfig(atr_period=5, anchor_period=5, spacing_atr=1.0, levels=2, stop_levels=0.0),
        ActionMapping("continuous"),
    ).prepare(bars)
    # flat prices: EMA 100, true range 2 -> ATR 2 until the last bar; last bar TR = max(98, 100) - 96 = 4,
    # ATR = (2 * 4 + 4) / 5 = 2.4, EMA = 100 + (97 - 100) / 3 = 99; z = (97 - 99) / 2.4 = -0.833 -> no line
    assert agent.targets[-1] == 0.0
    deeper = GridTrader(
        GridConfig(atr_period=5, anchor_period=5, spacing_atr=0.5, levels=2, stop_levels=0.0),
        ActionMapping("continuous"),
    ).prepare(bars)
    # spacing 1.2: z = -1.667 -> one unit of two
    assert deeper.targets[-1] == pytest.approx(0.5)


def test_agent_configs_validate() -> None:
    with pytest.raises(ConfigError):
        PPOConfig(framework="tf").validate()
    with pytest.raises(ConfigError):
        PPOConfig(framework="sb3", use_lstm=True).validate()
    with pytest.raises(ConfigError):
        GridConfig(levels=0).validate()


def test_the_grid_never_spaces_its_lines_closer_than_the_instruments_tick() -> None:
    # DOGE-like prices wiggling by 0.00002 (2 ticks of 0.00001) with a high-low range of 0.00001: the ATR
    # (~0.00002) times spacing_atr 0.1 would put lines 0.000002 apart, a fifth of a tick. With the env's
    # instrument the lines sit one tick apart, the same grid as spacing_atr = tick / ATR would give.
    from asterrl.sim.instrument import Instrument, MarginTier

    close = 0.12 + 0.00002 * np.sin(np.arange(300) / 3.0)
    frame = _bars(list(close)).assign(high=close + 0.000005, low=close - 0.000005)
    series = PriceSeries.from_bars(frame)
    doge = Instrument(
        "DOGEUSDT", 0.00001, 1.0, 1.0, 1e9, 5.0, (MarginTier(0.0, float("inf"), 0.01, 0.0, 50.0),)
    )
    cfg = GridConfig(spacing_atr=0.1, atr_period=5, anchor_period=20)
    on_ticks = GridTrader(cfg, ActionMapping("continuous", instrument=doge)).compute_targets(series)
    below_ticks = GridTrader(cfg, ActionMapping("continuous")).compute_targets(series)
    from agents.rules.kernels import grid_targets
    from asterrl.features.kernels.rolling import ema
    from asterrl.features.kernels.volatility import atr

    spacing = np.maximum(0.1 * atr(series.high, series.low, series.close, 5), 0.00001)
    always = np.ones(close.shape[0], dtype=np.bool_)
    expected = grid_targets(series.close, ema(series.close, 20), spacing, cfg.levels, cfg.stop_levels,
                            cfg.max_fraction, cfg.allow_short, always, False)  # fmt: skip
    np.testing.assert_array_equal(on_ticks, expected)
    assert not np.array_equal(
        on_ticks, below_ticks
    )  # sub-tick lines trade on noise the exchange cannot quote
