"""Evaluation over the same bars for every agent, with why it ended, its leverage, costs and round trips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from agents.policy import DecisionContext
from asterrl.sim import layout as L
from experiments.config import load_config
from experiments.training.environment import evaluation_core, prepare_market
from experiments.training.evaluation import Evaluation, evaluate_policy
from experiments.training.exposure import RAN_TO_END, exposure, round_trips
from experiments.training.report import write_report

SYNTHETIC = ["data=synthetic", "data.start=2023-01-01", "data.end=2023-03-01", "env.action_type=discrete"]


class Constant:
    """Always the same discrete action (index into env.action_levels)."""

    def __init__(self, action: int, name: str) -> None:
        self.action, self.name = action, name

    def act(
        self, observations: npt.NDArray[np.float32], context: DecisionContext | None = None
    ) -> npt.NDArray[np.int64]:
        return np.full(observations.shape[0], self.action, dtype=np.int64)

    def reset(self, mask: npt.NDArray[np.bool_] | None = None) -> None:
        pass

    def seed(self, seed: int) -> None:
        pass


@pytest.fixture(scope="module")
def evaluations() -> tuple[Evaluation, Evaluation, Evaluation]:
    cfg = load_config([*SYNTHETIC, "risk.max_drawdown=0.1", "risk.max_daily_loss=inf"])
    market = prepare_market(cfg, show_progress=False)
    core = evaluation_core(cfg, market, "test")
    long_max = evaluate_policy(Constant(4, "long"), core, 0)  # 3x long: the 10 % drawdown limit stops it
    short_max = evaluate_policy(Constant(0, "short"), core, 0)
    flat = evaluate_policy(Constant(2, "flat"), core, 0)
    return long_max, short_max, flat


def test_an_agent_stopped_by_a_limit_is_measured_over_the_same_bars_flat_after_the_stop(
    evaluations: tuple[Evaluation, Evaluation, Evaluation],
) -> None:
    long_max, short_max, flat = evaluations
    assert flat.end.reason == RAN_TO_END and not flat.end.stopped_early
    stopped = [e for e in (long_max, short_max) if e.end.stopped_early]
    assert len(stopped) == 2, "3x long and 3x short on these bars both breach a 10 % drawdown limit"
    for e in (long_max, short_max):
        np.testing.assert_array_equal(e.trace.timestamps, flat.trace.timestamps)  # the same bars
        assert e.trace.steps == flat.trace.steps
    for e in stopped:
        assert e.end.reason == "halted: max drawdown (risk.max_drawdown)"
        at = e.end.step
        assert 0 < at < e.trace.steps
        assert e.trace.timestamps[at] == e.end.timestamp
        after = e.trace.equity[at:]
        assert np.all(after == after[0])  # flat from the stop to the end of the split
        assert np.all(e.trace.position[at:] == 0.0) and np.all(e.trace.fees[at:] == 0.0)
        assert e.trace.actions.shape[0] == at  # no decisions after the stop
        assert e.metrics.max_drawdown >= 0.1


def test_leverage_costs_fills_and_round_trips_of_an_evaluation(
    evaluations: tuple[Evaluation, Evaluation, Evaluation],
) -> None:
    long_max, _, flat = evaluations
    cfg = load_config(SYNTHETIC)
    market = prepare_market(cfg, show_progress=False)
    value_close = evaluation_core(cfg, market, "test").data.values[:, L.Market.VALUE_CLOSE]
    bars = np.searchsorted(market.bars["timestamp"].to_numpy(), long_max.trace.timestamps[1:])
    expected = np.abs(long_max.trace.position) * value_close[bars] / long_max.trace.equity[1:]
    np.testing.assert_allclose(long_max.leverage, expected, rtol=1e-12)
    x = long_max.exposure
    assert x.peak_leverage == pytest.approx(float(np.max(expected)))
    assert x.mean_leverage == pytest.approx(float(np.mean(expected)))
    # The position scale is risk.max_leverage (3): a full long is near 3x (it drifts
    # with the price between the fills that keep it at the target).
    assert 2.5 < x.peak_leverage < 4.0 and 0.0 < x.mean_leverage < x.peak_leverage
    assert x.slippage_paid > 0.0 and x.fees_paid > 0.0
    assert x.total_costs == pytest.approx(x.fees_paid + x.slippage_paid + x.funding_paid)
    assert x.fills >= 2 and x.round_trips == 1  # opened (and topped up), then flattened by the limit
    assert flat.exposure.fills == 0 and flat.exposure.mean_leverage == 0.0


def test_round_trips_count_closes_and_reversals_not_fills() -> None:
    # open 1, add to 2 (a fill, same trip), reverse to -1 (closes one, opens one), flat, open 0.5, flat
    path = np.array([1.0, 2.0, -1.0, 0.0, 0.0, 0.5, 0.0])
    assert round_trips(path) == 3
    assert round_trips(np.array([0.0, 0.0])) == 0
    assert round_trips(np.array([1.0, 1.0, 1.0])) == 0  # still open at the end
    assert round_trips(np.array([-1.0, 1.0, -1.0, 1.0])) == 3
    x = exposure(
        leverage=np.array([0.0, 2.0, 1.0]),
        fees=np.array([1.0, 0.0, 2.0]),
        slippage=np.array([0.5, 0.0, 0.25]),
        funding=np.array([0.0, -0.1, 0.3]),
        traded_notional=np.array([100.0, 0.0, 50.0]),
        position=np.array([1.0, 1.0, 0.0]),
    )
    assert (x.mean_leverage, x.peak_leverage, x.fills, x.round_trips) == (1.0, 2.0, 2, 1)
    assert x.funding_paid == pytest.approx(-0.2) and x.total_costs == pytest.approx(3.0 + 0.75 - 0.2)
    # a position opened and flattened by a halt within one step still closes one round trip
    assert round_trips(np.array([0.0, 0.0]), closed_within=[False, True]) == 1


def test_the_report_gives_leverage_costs_round_trips_and_end_reasons(
    evaluations: tuple[Evaluation, Evaluation, Evaluation], tmp_path: Path
) -> None:
    long_max, short_max, flat = evaluations
    path = write_report([("long", long_max), ("short", short_max), ("flat", flat)], tmp_path, "t")
    text = path.read_text()
    for column in ("avg leverage", "peak leverage", "spread+impact (USDT)", "total costs", "round trips"):
        assert column in text
    assert "halted: max drawdown (risk.max_drawdown)" in text and RAN_TO_END in text
    table = pd.read_csv(tmp_path / "metrics.csv", index_col="agent")
    assert table.loc["flat", "end"] == RAN_TO_END
    assert table.loc["long", "round_trips"] == long_max.exposure.round_trips
    assert int(table.loc["long", "bars"]) == int(table.loc["flat", "bars"])
    assert (tmp_path / "equity.png").stat().st_size > 0
