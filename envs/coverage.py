"""Which bars the episodes of an env have covered: distinct episode starts and the share of bars visited.

A training run that keeps starting at the same bar learns one window by heart; these counters make that
visible. Each env keeps an ``EpisodeCoverage`` and feeds it the start of every episode and the span of every
finished one; trainers merge the snapshots of all their envs (``merge``) and log the summary per iteration.

Bars are indices into the env's market data. The coverage range is the split's tradable decision bars
``[start_lo, split_end]``: the first bar an episode may start on to the split's last bar.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class CoverageSummary:
    """Coverage figures of one or more envs.

    :param episodes: episodes started.
    :param finished_episodes: episodes that ended (their bars count as visited).
    :param distinct_starts: different start bars among the episodes started.
    :param possible_starts: bars an episode may start on (``start_hi - start_lo + 1``).
    :param bars_visited_share: share of the range's bars that a finished episode stepped through, in [0, 1].
    :param finished_bars: bars the finished episodes stepped through, each episode's counted (repeats too).
    """

    episodes: int
    finished_episodes: int
    distinct_starts: int
    possible_starts: int
    bars_visited_share: float
    finished_bars: int = 0

    def as_dict(self) -> dict[str, float]:
        return {
            "episodes": float(self.episodes),
            "finished_episodes": float(self.finished_episodes),
            "distinct_starts": float(self.distinct_starts),
            "possible_starts": float(self.possible_starts),
            "bars_visited_share": self.bars_visited_share,
            "finished_bars": float(self.finished_bars),
        }


@dataclass(frozen=True)
class CoverageSnapshot:
    """Raw counters of one env (what a remote env runner sends back), mergeable across envs.

    :param start_counts: episodes started at each bar of ``[lo, hi_end]`` (index 0 is bar ``lo``).
    :param visited: whether a finished episode stepped through each bar of ``[lo, hi_end]``.
    :param finished_bars: bars the finished episodes stepped through, repeats counted (0 in snapshots
        saved before it was counted).
    """

    lo: int
    start_hi: int
    hi_end: int
    start_counts: npt.NDArray[np.int64]
    visited: npt.NDArray[np.bool_]
    finished: int
    finished_bars: int = 0

    def summary(self) -> CoverageSummary:
        starts = self.start_counts[: self.start_hi - self.lo + 1]
        return CoverageSummary(
            episodes=int(self.start_counts.sum()),
            finished_episodes=self.finished,
            distinct_starts=int(np.count_nonzero(starts)),
            possible_starts=int(starts.shape[0]),
            bars_visited_share=float(self.visited.mean()) if self.visited.size else 0.0,
            finished_bars=self.finished_bars,
        )


def merge(snapshots: list[CoverageSnapshot]) -> CoverageSnapshot:
    """One snapshot of several envs over the same range (counts added, visited bars united)."""
    if not snapshots:
        raise ValueError("merge needs at least one coverage snapshot")
    first = snapshots[0]
    for other in snapshots[1:]:
        if (other.lo, other.start_hi, other.hi_end) != (first.lo, first.start_hi, first.hi_end):
            raise ValueError("coverage snapshots of different ranges cannot be merged")
    return CoverageSnapshot(
        first.lo,
        first.start_hi,
        first.hi_end,
        np.sum([s.start_counts for s in snapshots], axis=0),
        np.logical_or.reduce([s.visited for s in snapshots]),
        sum(s.finished for s in snapshots),
        sum(s.finished_bars for s in snapshots),
    )


class EpisodeCoverage:
    """Counters of the episode starts and visited bars of one env (any number of accounts).

    :param start_lo: first bar an episode may start on.
    :param start_hi: last bar a random start may draw.
    :param split_end: last bar of the split (episodes end there at the latest).
    """

    def __init__(self, start_lo: int, start_hi: int, split_end: int) -> None:
        self.lo, self.start_hi, self.hi_end = int(start_lo), int(start_hi), int(split_end)
        size = self.hi_end - self.lo + 1
        self._start_counts = np.zeros(size, dtype=np.int64)
        self._visited = np.zeros(size, dtype=np.bool_)
        self._finished = 0
        self._finished_bars = 0

    def record_starts(self, bars: npt.NDArray[np.int64] | int) -> None:
        """Count episodes starting at ``bars``."""
        np.add.at(self._start_counts, np.asarray(bars, dtype=np.int64) - self.lo, 1)

    def record_spans(
        self, starts: npt.NDArray[np.int64] | int, ends: npt.NDArray[np.int64] | npt.NDArray[np.float64] | int
    ) -> None:
        """Mark the bars ``start..end`` (inclusive) of finished episodes as visited."""
        first = np.atleast_1d(np.asarray(starts, dtype=np.int64)) - self.lo
        last = np.atleast_1d(np.asarray(ends, dtype=np.int64)) - self.lo
        last = np.minimum(last, self._visited.shape[0] - 1)
        for a, b in zip(first.tolist(), last.tolist(), strict=True):
            self._visited[max(a, 0) : b + 1] = True
            self._finished_bars += max(b + 1 - max(a, 0), 0)
        self._finished += first.shape[0]

    def snapshot(self) -> CoverageSnapshot:
        """A copy of the counters."""
        return CoverageSnapshot(
            self.lo,
            self.start_hi,
            self.hi_end,
            self._start_counts.copy(),
            self._visited.copy(),
            self._finished,
            self._finished_bars,
        )

    def summary(self) -> CoverageSummary:
        return self.snapshot().summary()

    def restore(self, snapshot: CoverageSnapshot) -> None:
        """Continue from ``snapshot``'s counters (a resumed training run); it must cover the same range."""
        if (snapshot.lo, snapshot.start_hi, snapshot.hi_end) != (self.lo, self.start_hi, self.hi_end):
            raise ValueError("a coverage snapshot of another range cannot be restored")
        self._start_counts = snapshot.start_counts.copy()
        self._visited = snapshot.visited.copy()
        self._finished = int(snapshot.finished)
        self._finished_bars = int(snapshot.finished_bars)
