"""Every configuration a search tried, recorded where the overfitting statistics read it.

A *study* is one question asked of one market: an agent kind on a symbol and bar interval
(``vol_trend/BTCUSDT-1h``). Each backtest, each job of a Hydra or Ray Tune multirun and each setting of a
walk-forward grid records its per-bar returns there as one *trial* (one ``.npz`` file per trial, written
atomically, so parallel jobs never collide). Running the same settings over the same span again replaces
its record rather than adding one: a trial is a distinct configuration, not a repeated run.

``TrialLog.trial_set(timestamps)`` gives the ``TrialSet`` a result reports beside its figures: how many
trials stand behind it, the variance of their per-bar Sharpe ratios (the deflated Sharpe ratio's inputs)
and, where at least two trials cover the result's bars, their returns on those bars (the PBO's input).

Layout::

    <experiment root>/<experiment name>/trials/<kind>/<SYMBOL>-<interval>/<trial id>.npz
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from asterrl.backtest.result import TrialSet
from asterrl.backtest.stats.sharpe import sharpe_ratio
from asterrl.errors import DataError
from asterrl.files import atomic_path

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
_SAFE = re.compile(r"[^A-Za-z0-9._=,-]+")


def study_name(kind: str, symbol: str, interval: str) -> str:
    """``<kind>/<SYMBOL>-<interval>``: the study an agent kind's trials on a market belong to."""
    return f"{_SAFE.sub('_', kind)}/{_SAFE.sub('_', symbol)}-{_SAFE.sub('_', interval)}"


@dataclass(frozen=True)
class Trial:
    """One recorded trial.

    :param trial_id: hash of its settings and span.
    :param name: label, e.g. ``vol_trend(entry_window=24)``.
    :param params: the settings that make it this trial.
    :param source: what ran it (``backtest``, ``multirun``, ``walkforward``, ...).
    :param timestamps: open time of the bar each return ends on, ms UTC.
    :param returns: per-bar simple returns of equity.
    """

    trial_id: str
    name: str
    params: dict[str, Any]
    source: str
    timestamps: IntArray
    returns: FloatArray

    @property
    def sharpe(self) -> float:
        """Per-bar Sharpe ratio (0 for fewer than 2 returns)."""
        return sharpe_ratio(self.returns) if self.returns.size >= 2 else 0.0


def trial_id(params: dict[str, Any], timestamps: npt.ArrayLike) -> str:
    """Identity of a trial: its settings and the first and last bar of its returns."""
    ts = np.asarray(timestamps, dtype=np.int64)
    span = [int(ts[0]), int(ts[-1])] if ts.size else []
    text = json.dumps({"params": params, "span": span}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class TrialLog:
    """The trials of one study in a folder (see the module docstring).

    :param root: the experiment's trials folder (``<experiment dir>/trials``).
    :param study: ``study_name(kind, symbol, interval)``.
    """

    def __init__(self, root: Path | str, study: str) -> None:
        self.study = study
        self.folder = Path(root).expanduser() / study

    def record(
        self,
        name: str,
        params: dict[str, Any],
        timestamps: npt.ArrayLike,
        returns: npt.ArrayLike,
        source: str,
    ) -> Trial:
        """Write one trial (replacing an earlier record of the same settings and span); return it."""
        ts = np.asarray(timestamps, dtype=np.int64)
        r = np.asarray(returns, dtype=np.float64)
        if ts.ndim != 1 or ts.shape != r.shape or not np.all(np.isfinite(r)):
            raise DataError(
                f"trial {name}: need one finite return per timestamp, got {r.shape} and {ts.shape}"
            )
        tid = trial_id(params, ts)
        meta = json.dumps({"name": name, "params": params, "source": source}, default=str)
        with atomic_path(self.folder / f"{tid}.npz") as temporary, temporary.open("wb") as handle:
            np.savez(handle, timestamps=ts, returns=r, meta=np.array(meta))
        return Trial(tid, name, dict(params), source, ts, r)

    def trials(self) -> list[Trial]:
        """Every trial of the study, oldest file first (an unreadable file is refused in one line)."""
        if not self.folder.is_dir():
            return []
        out = []
        for path in sorted(self.folder.glob("*.npz"), key=lambda p: (p.stat().st_mtime_ns, p.name)):
            try:
                with np.load(path, allow_pickle=False) as data:
                    meta = json.loads(str(data["meta"]))
                    ts, r = data["timestamps"].astype(np.int64), data["returns"].astype(np.float64)
            except (OSError, ValueError, KeyError) as exc:
                raise DataError(f"trial record {path} is unreadable ({exc}); delete it to go on") from None
            out.append(Trial(path.stem, meta["name"], meta["params"], meta["source"], ts, r))
        return out

    def trial_set(self, timestamps: npt.ArrayLike | None = None) -> TrialSet | None:
        """The trials behind a result whose returns end on ``timestamps``: their number, the variance of
        their per-bar Sharpe ratios, and the returns of those that cover every one of ``timestamps``
        (when two or more do; else ``None``). ``None`` when the study holds no trial."""
        trials = self.trials()
        if not trials:
            return None
        sharpes = np.array([t.sharpe for t in trials])
        variance = float(np.var(sharpes, ddof=1)) if sharpes.size > 1 else 0.0
        matrix = None
        if timestamps is not None:
            ts = np.asarray(timestamps, dtype=np.int64)
            columns = [_on_bars(t, ts) for t in trials]
            covering = [c for c in columns if c is not None]
            if len(covering) >= 2 and len(covering) == len(trials):
                matrix = np.column_stack(covering)
        return TrialSet(len(trials), variance, matrix)

    def table(self) -> pd.DataFrame:
        """One row per trial: id, name, source, first and last bar, bars and per-bar Sharpe."""
        rows = [
            {
                "trial": t.trial_id,
                "name": t.name,
                "source": t.source,
                "first": pd.Timestamp(int(t.timestamps[0]), unit="ms", tz="UTC")
                if t.timestamps.size
                else None,
                "last": pd.Timestamp(int(t.timestamps[-1]), unit="ms", tz="UTC")
                if t.timestamps.size
                else None,
                "bars": int(t.returns.size),
                "sharpe_per_bar": t.sharpe,
            }
            for t in self.trials()
        ]
        return pd.DataFrame(rows)


def _on_bars(trial: Trial, timestamps: IntArray) -> FloatArray | None:
    """The trial's returns on exactly ``timestamps``, or ``None`` when it misses any of them."""
    where = np.searchsorted(trial.timestamps, timestamps)
    inside = where < trial.timestamps.size
    if not inside.all() or not np.array_equal(trial.timestamps[where], timestamps):
        return None
    return trial.returns[where]
