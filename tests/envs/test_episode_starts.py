"""Episode starts as behaviour: every reset and autoreset draws a new start, over the whole split, uniformly.

The single env, the vector env (both autoreset modes) and the SB3 adapter are checked over many episodes,
not only the first: a second reset must differ from the first, 10,000 episodes must cover the allowed range
uniformly (chi-square), the same seed must give the same sequence and accounts must not share a stream.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from scipy import stats

import envs
from asterrl.risk import RiskLimits
from envs.coverage import EpisodeCoverage, merge
from envs.vector_env import account_seed
from tests.envs.market import SPLITS, synthetic_market

BARS, FUNDING, MARK = synthetic_market()
RISK = RiskLimits(max_leverage=3.0, max_drawdown=0.9, max_daily_loss=0.9)
KWARGS: dict[str, Any] = {
    "data": BARS,
    "funding": FUNDING,
    "mark": MARK,
    "instrument": "BTCUSDT",
    "risk": RISK,
    "splits": SPLITS,
}


def single(**overrides: Any) -> envs.AsterPerpEnv:
    return envs.AsterPerpEnv(**KWARGS, **{"window": 8, "episode_length": 24, **overrides})


def vector(n: int, **overrides: Any) -> envs.AsterPerpVectorEnv:
    return envs.AsterPerpVectorEnv(n, **KWARGS, **{"window": 8, "episode_length": 24, **overrides})


def _single_starts(env: envs.AsterPerpEnv, n: int, seed: int | None = 0) -> list[int]:
    starts = [int(env.reset(seed=seed)[1]["bar"])]
    starts += [int(env.reset()[1]["bar"]) for _ in range(n - 1)]
    return starts


def test_every_reset_of_the_single_env_draws_a_new_start() -> None:
    env = single()
    starts = _single_starts(env, 6)
    lo, hi, _ = env.core.coverage_range
    assert all(lo <= s <= hi for s in starts)
    assert len(set(starts)) == 6  # the bug: reset(seed) then reset() x5 all started at one bar
    assert _single_starts(single(), 6) == starts  # same seed, same sequence
    assert _single_starts(single(), 6, seed=1) != starts
    # a reset after stepping through an episode draws too
    env.reset(seed=0)
    done = False
    while not done:
        _, _, term, trunc, _ = env.step(2)
        done = term or trunc
    assert int(env.reset()[1]["bar"]) == starts[1]


def test_every_reset_of_the_vector_env_draws_a_new_start_for_every_account() -> None:
    vec = vector(3)
    first = vec.reset(seed=0)[1]["bar"]
    later = [vec.reset()[1]["bar"] for _ in range(4)]
    rows = np.vstack([first, *later])  # [reset, account]
    assert np.all(rows[1] != rows[0])  # the second reset differs from the first, for every account
    for account in range(3):  # 5 draws over ~590 bars: a repeat is possible, one start for all is not
        assert len(set(rows[:, account].tolist())) >= 4, rows
    assert len({tuple(r) for r in rows.tolist()}) == 5
    assert len(set(first.tolist())) == 3  # accounts draw different starts


@pytest.mark.parametrize("mode", ["next_step", "same_step"])
def test_autoreset_inside_step_draws_a_new_start_for_every_account(mode: str) -> None:
    vec = vector(3, episode_length=4, autoreset_mode=mode)
    vec.reset(seed=0)
    for _ in range(40):
        vec.step(np.full(3, 2))
    counts = vec.coverage.snapshot().start_counts
    episodes = int(counts.sum())
    assert episodes >= 3 * 8
    assert np.count_nonzero(counts) >= episodes - 2  # nearly every episode at its own bar


def test_account_i_follows_a_single_env_reset_with_its_account_seed() -> None:
    vec = vector(4, episode_length=3, autoreset_mode="next_step")
    starts: list[list[int]] = [[int(b)] for b in vec.reset(seed=11)[1]["bar"]]
    for _ in range(12):
        _, _, _, _, info = vec.step(np.full(4, 2))
        for i in np.flatnonzero(info["autoreset"]):
            starts[i].append(int(info["bar"][i]))
    for i in range(4):
        env = single(episode_length=3)
        assert _single_starts(env, len(starts[i]), seed=account_seed(11, i)) == starts[i]


def test_account_seeds_differ_across_accounts_and_rllib_runner_seeds() -> None:
    # RLlib seeds env runner w with seed + w; account i of runner w must not replay another's stream
    seeds = {account_seed(s, i) for s in range(10) for i in range(16)}
    assert len(seeds) == 160
    a = vector(2)
    b = vector(2)
    a.reset(seed=5)  # runner 0
    b.reset(seed=6)  # runner 1
    sa = np.vstack([a.reset()[1]["bar"] for _ in range(6)])
    sb = np.vstack([b.reset()[1]["bar"] for _ in range(6)])
    assert not np.array_equal(sa[:, 1], sb[:, 0])


def _chi_square_uniform(starts: npt.NDArray[np.int64], lo: int, hi: int, bins: int = 40) -> float:
    edges = np.linspace(lo, hi + 1, bins + 1)
    observed, _ = np.histogram(starts, bins=edges)
    widths = np.diff(np.floor(edges))
    expected = widths / widths.sum() * starts.shape[0]
    return float(stats.chisquare(observed, expected).pvalue)


def _assert_uniform(starts: npt.NDArray[np.int64], lo: int, hi: int) -> None:
    assert starts.shape[0] >= 10_000
    assert starts.min() >= lo and starts.max() <= hi
    assert _chi_square_uniform(starts, lo, hi) > 1e-3
    # and the draws cover the range: with ~14 draws per bar, nearly every bar is drawn
    assert np.unique(starts).shape[0] >= 0.99 * (hi - lo + 1)
    jittered = (starts - lo + np.random.default_rng(0).random(starts.shape[0])) / (hi - lo + 1)
    ks = stats.kstest(jittered, "uniform")
    assert ks.pvalue > 1e-3


@pytest.mark.slow
def test_ten_thousand_single_env_episodes_start_uniformly_over_the_split() -> None:
    env = single(episode_length=1)
    lo, hi, _ = env.core.coverage_range
    starts = np.empty(10_000, dtype=np.int64)
    starts[0] = env.reset(seed=3)[1]["bar"]
    for k in range(1, starts.shape[0]):
        env.step(2)
        starts[k] = env.reset()[1]["bar"]
    _assert_uniform(starts, lo, hi)
    summary = env.coverage.summary()
    assert summary.episodes == 10_000 and summary.finished_episodes == 9_999
    assert summary.distinct_starts == np.unique(starts).shape[0]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["next_step", "same_step"])
def test_ten_thousand_vector_env_episodes_start_uniformly_over_the_split(mode: str) -> None:
    n = 10
    vec = vector(n, episode_length=1, autoreset_mode=mode)
    lo, hi, _ = vec.core.coverage_range
    vec.reset(seed=4)
    from_info: list[int] = []
    steps_per_episode = 2 if mode == "next_step" else 1
    for _ in range(10_000 // n * steps_per_episode + 2):
        _, _, _, _, info = vec.step(np.full(n, 2))
        if mode == "next_step":
            from_info += info["bar"][info["autoreset"] == 1.0].astype(np.int64).tolist()
    counts = vec.coverage.snapshot().start_counts
    starts = np.repeat(np.arange(lo, lo + counts.shape[0]), counts)
    _assert_uniform(starts, lo, hi)
    if mode == "next_step":  # the tracker agrees with the starts the env reported
        reported = np.bincount(np.asarray(from_info) - lo, minlength=counts.shape[0])
        assert int(counts.sum() - reported.sum()) == n  # the n starts of the first reset
        assert np.all(counts >= reported)


@pytest.mark.slow
def test_sb3_adapter_draws_new_starts_over_the_whole_split() -> None:
    from agents.sb3.vec_env import SB3VecEnv

    venv = SB3VecEnv(vector(6, episode_length=2, autoreset_mode="same_step"))
    venv.seed(9)
    venv.reset()
    rng = np.random.default_rng(1)
    for _ in range(2_000):
        venv.step(rng.integers(0, 5, size=6))
    snapshot = venv.env.coverage.snapshot()
    lo, hi, _ = venv.env.core.coverage_range
    starts = np.repeat(np.arange(lo, lo + snapshot.start_counts.shape[0]), snapshot.start_counts)
    assert starts.shape[0] >= 6_000
    assert _chi_square_uniform(starts, lo, hi) > 1e-3
    assert venv.env.coverage.summary().bars_visited_share > 0.99


def test_coverage_counts_starts_and_visited_bars_by_hand() -> None:
    cov = EpisodeCoverage(start_lo=10, start_hi=17, split_end=19)  # bars 10..19, starts 10..17
    cov.record_starts(np.array([10, 12, 12]))
    cov.record_spans(np.array([10, 12]), np.array([11, 14]))  # visits 10, 11, 12, 13, 14
    summary = cov.summary()
    assert (summary.episodes, summary.finished_episodes) == (3, 2)
    assert (summary.distinct_starts, summary.possible_starts) == (2, 8)
    assert summary.bars_visited_share == pytest.approx(5 / 10)
    other = EpisodeCoverage(10, 17, 19)
    other.record_starts(17)
    other.record_spans(17, 19)
    both = merge([cov.snapshot(), other.snapshot()]).summary()
    assert (both.episodes, both.distinct_starts) == (4, 3)
    assert both.bars_visited_share == pytest.approx(8 / 10)


def test_other_random_streams_give_a_new_draw_each_time() -> None:
    env = single(action_type="continuous")
    env.action_space.seed(0)
    draws = [float(env.action_space.sample()[0]) for _ in range(50)]
    assert len(set(draws)) == 50 and min(draws) < -0.8 and max(draws) > 0.8
    discrete = single()
    discrete.action_space.seed(0)
    picks = [int(discrete.action_space.sample()) for _ in range(200)]
    assert set(picks) == set(range(5))
    vec = vector(4)
    vec.action_space.seed(0)
    assert not np.array_equal(vec.action_space.sample(), vec.action_space.sample())
