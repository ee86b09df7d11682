"""Validation of market-data frames: find every known problem, report it, and apply a policy per problem.

Policies (``ValidationPolicy``): ``error`` blocks the data, ``drop`` removes the offending rows, ``mark``
keeps them and sets a bit in the ``quality_flags`` column. Gaps are never filled: they can only be reported
(and marked on the first bar after the gap) or treated as an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntFlag, StrEnum

import numpy as np
import pandas as pd

from asterrl.data.schema import (
    PRICE_COLUMNS,
    QUALITY_COLUMN,
    REQUIRED_COLUMNS,
    DataKind,
    SeriesKey,
    interval_offset_ms,
)
from asterrl.errors import DataError


class Policy(StrEnum):
    """What to do with rows that show a problem."""

    ERROR = "error"
    DROP = "drop"
    MARK = "mark"
    # Lower-case aliases so that configs can say `gaps: mark` (OmegaConf looks enum members up by name).
    error = "error"
    drop = "drop"
    mark = "mark"


class QualityFlag(IntFlag):
    """Bits of the ``quality_flags`` column written for problems whose policy is ``mark``."""

    GAP_BEFORE = 1
    MISALIGNED = 2
    NON_FINITE = 4
    OHLC_INCONSISTENT = 8
    NEGATIVE_VOLUME = 16
    ZERO_VOLUME_FLAT = 32
    OUTLIER_RETURN = 64


#: Problem name -> (flag used by ``mark``, policies that make sense for it).
PROBLEMS: dict[str, tuple[QualityFlag | None, tuple[Policy, ...]]] = {
    "duplicate_timestamps": (None, (Policy.ERROR, Policy.DROP)),
    "non_monotonic": (None, (Policy.ERROR, Policy.DROP)),
    "misaligned": (QualityFlag.MISALIGNED, (Policy.ERROR, Policy.DROP, Policy.MARK)),
    "gaps": (QualityFlag.GAP_BEFORE, (Policy.ERROR, Policy.MARK)),
    "non_finite": (QualityFlag.NON_FINITE, (Policy.ERROR, Policy.DROP, Policy.MARK)),
    "ohlc_inconsistent": (QualityFlag.OHLC_INCONSISTENT, (Policy.ERROR, Policy.DROP, Policy.MARK)),
    "negative_volume": (QualityFlag.NEGATIVE_VOLUME, (Policy.ERROR, Policy.DROP, Policy.MARK)),
    "zero_volume_runs": (QualityFlag.ZERO_VOLUME_FLAT, (Policy.ERROR, Policy.DROP, Policy.MARK)),
    "outlier_returns": (QualityFlag.OUTLIER_RETURN, (Policy.ERROR, Policy.DROP, Policy.MARK)),
}


@dataclass
class ValidationPolicy:
    """Policy per problem plus the thresholds that define two of them (Hydra structured config)."""

    duplicate_timestamps: Policy = Policy.ERROR
    non_monotonic: Policy = Policy.ERROR
    misaligned: Policy = Policy.ERROR
    gaps: Policy = Policy.MARK
    non_finite: Policy = Policy.ERROR
    ohlc_inconsistent: Policy = Policy.ERROR
    negative_volume: Policy = Policy.ERROR
    zero_volume_runs: Policy = Policy.MARK
    outlier_returns: Policy = Policy.MARK
    #: A bar return is an outlier above this many robust standard deviations (MAD x 1.4826) of log returns.
    outlier_sigmas: float = 20.0
    #: A funding rate is an outlier above this absolute value (0.03 = 3 % per interval, Aster's usual cap).
    max_abs_funding_rate: float = 0.03

    def check(self) -> None:
        """Raise ``DataError`` when a policy is not allowed for its problem."""
        for name, (_, allowed) in PROBLEMS.items():
            value = Policy(getattr(self, name))
            if value not in allowed:
                options = ", ".join(p.value for p in allowed)
                raise DataError(
                    f"validation policy {name}={value.value} is not allowed; use one of {options}"
                )
        if self.outlier_sigmas <= 0 or self.max_abs_funding_rate <= 0:
            raise DataError("validation thresholds outlier_sigmas and max_abs_funding_rate must be positive")


@dataclass(frozen=True)
class Gap:
    """Missing bars strictly between two present bars (``after_ms`` and ``before_ms``, open times)."""

    after_ms: int
    before_ms: int
    missing: int


@dataclass
class Problem:
    """One kind of problem found: how many rows, the policy applied, and whether it blocks use."""

    name: str
    count: int
    policy: Policy
    detail: str = ""
    first_row: int | None = None

    @property
    def blocking(self) -> bool:
        return self.count > 0 and self.policy is Policy.ERROR


@dataclass
class ValidationReport:
    """Everything validation found in one table."""

    source: str
    kind: DataKind
    interval_ms: int | None
    rows: int
    first_ms: int | None
    last_ms: int | None
    problems: list[Problem] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    funding_intervals_h: list[float] = field(default_factory=list)
    rows_dropped: int = 0
    rows_marked: int = 0

    @property
    def usable(self) -> bool:
        """True when no problem with policy ``error`` was found."""
        return not any(p.blocking for p in self.problems)

    @property
    def first_blocking(self) -> Problem | None:
        return next((p for p in self.problems if p.blocking), None)

    @property
    def missing_bars(self) -> int:
        return sum(g.missing for g in self.gaps)

    def problem(self, name: str) -> Problem:
        return next(p for p in self.problems if p.name == name)

    def blocking_message(self) -> str:
        """One line naming the first blocking problem (for errors and exit messages)."""
        p = self.first_blocking
        if p is None:
            return f"{self.source}: usable"
        where = f" (first at data row {p.first_row + 1})" if p.first_row is not None else ""
        detail = f": {p.detail}" if p.detail else ""
        return f"{self.source}: {p.count} {p.name.replace('_', ' ')}{where}{detail}"

    def format(self, max_gaps: int = 50) -> str:
        """Multi-line human report."""
        lines = [f"{self.source}", f"  kind {self.kind.value}, {self.rows} rows"]
        if self.first_ms is not None and self.last_ms is not None:
            lines[-1] += f", {_fmt_ms(self.first_ms)} -> {_fmt_ms(self.last_ms)} UTC"
        if self.interval_ms:
            lines[-1] += f", interval {_fmt_interval(self.interval_ms)}"
        if self.funding_intervals_h:
            hours = ", ".join(f"{h:g}h" for h in self.funding_intervals_h)
            lines.append(f"  funding intervals seen: {hours}")
        if self.interval_ms:
            if self.gaps:
                longest = max(self.gaps, key=lambda g: g.missing)
                lines.append(
                    f"  gaps: {len(self.gaps)} ({self.missing_bars} missing bars), longest {longest.missing} "
                    f"bars after {_fmt_ms(longest.after_ms)}"
                )
                for gap in self.gaps[:max_gaps]:
                    lines.append(
                        f"    {_fmt_ms(gap.after_ms)} -> {_fmt_ms(gap.before_ms)} ({gap.missing} bars)"
                    )
                if len(self.gaps) > max_gaps:
                    lines.append(f"    ... {len(self.gaps) - max_gaps} more")
            else:
                lines.append("  gaps: 0 (0 missing bars)")
        lines.append(f"  {'problem':<22}{'count':>8}  policy")
        for p in self.problems:
            note = "  BLOCKING" if p.blocking else ""
            detail = f"  {p.detail}" if p.detail and p.count else ""
            lines.append(f"  {p.name:<22}{p.count:>8}  {p.policy.value}{note}{detail}")
        verdict = "usable" if self.usable else f"NOT usable: {self.blocking_message()}"
        extra = []
        if self.rows_dropped:
            extra.append(f"{self.rows_dropped} rows dropped")
        if self.rows_marked:
            extra.append(f"{self.rows_marked} rows marked in {QUALITY_COLUMN}")
        lines.append("  verdict: " + verdict + (f" ({', '.join(extra)})" if extra else ""))
        return "\n".join(lines)


def validate(
    frame: pd.DataFrame,
    kind: DataKind,
    interval_ms: int | None,
    policy: ValidationPolicy | None = None,
    source: str = "frame",
    interval_offset_ms: int = 0,
) -> tuple[ValidationReport, pd.DataFrame]:
    """Check a canonical frame and apply the policies.

    :param frame: canonical columns of ``kind`` (see ``asterrl.data.io.conform``), rows in original order.
    :param interval_ms: bar length for gap and alignment checks; ``None`` for funding.
    :return: the report and the cleaned frame (sorted by timestamp, dropped rows removed, ``quality_flags``
        added when a ``mark`` policy flagged rows). When the report is not usable the frame is the input.
    """
    policy = policy or ValidationPolicy()
    policy.check()
    ts = frame["timestamp"].to_numpy(dtype=np.int64)
    n = len(ts)
    drop = np.zeros(n, dtype=bool)
    flags = np.zeros(n, dtype=np.int16)
    report = ValidationReport(
        source=source,
        kind=kind,
        interval_ms=interval_ms,
        rows=n,
        first_ms=int(ts.min()) if n else None,
        last_ms=int(ts.max()) if n else None,
    )

    def record(name: str, mask: np.ndarray, detail: str = "") -> None:
        pol = Policy(getattr(policy, name))
        count = int(mask.sum())
        first = int(np.flatnonzero(mask)[0]) if count else None
        report.problems.append(Problem(name, count, pol, detail if count else "", first))
        if count and pol is Policy.DROP:
            drop[mask] = True
        elif count and pol is Policy.MARK:
            flag = PROBLEMS[name][0]
            assert flag is not None
            flags[mask] |= np.int16(flag)

    values = frame[[c for c in frame.columns if c != "timestamp"]].to_numpy(dtype=np.float64)
    record("non_finite", ~np.isfinite(values).all(axis=1) if values.size else np.zeros(n, bool))

    prices = PRICE_COLUMNS[kind]
    if prices is not None:
        o, h, low, c = (frame[name].to_numpy(dtype=np.float64) for name in prices)
        with np.errstate(invalid="ignore"):
            bad = (h < np.maximum(o, c)) | (low > np.minimum(o, c)) | (low > h) | (low <= 0)
        record("ohlc_inconsistent", bad, "high below open/close, low above open/close, or price <= 0")
    if kind is DataKind.OHLCV:
        vol = frame["volume"].to_numpy(dtype=np.float64)
        record("negative_volume", vol < 0)
        flat = (vol == 0) & (o == h) & (h == low) & (low == c)
        runs = _run_lengths(flat)
        detail = f"{len(runs)} runs, longest {max(runs)} bars" if runs else ""
        record("zero_volume_runs", flat, detail)

    # Ordering problems, on the raw row order.
    dup = pd.Series(ts).duplicated(keep="first").to_numpy()
    record("duplicate_timestamps", dup, "repeated timestamps")
    running_max = np.maximum.accumulate(ts) if n else ts
    backwards = np.zeros(n, dtype=bool)
    backwards[1:] = ts[1:] < running_max[:-1]
    record("non_monotonic", backwards & ~dup, "timestamps go backwards (rows out of order)")

    # Grid problems, on the sorted unique timestamps (so that they are reported even for unsorted input).
    order = np.argsort(ts, kind="stable")
    keep_sorted = order[~dup[order]]
    if interval_ms:
        misaligned = ((ts - interval_offset_ms) % interval_ms) != 0
        record("misaligned", misaligned, f"timestamps off the {_fmt_interval(interval_ms)} grid")
        sorted_ts = ts[keep_sorted]
        diffs = np.diff(sorted_ts)
        gap_idx = np.flatnonzero(diffs > interval_ms)
        report.gaps = [
            Gap(int(sorted_ts[i]), int(sorted_ts[i + 1]), int(diffs[i] // interval_ms - 1)) for i in gap_idx
        ]
        gap_mask = np.zeros(n, dtype=bool)
        gap_mask[keep_sorted[gap_idx + 1]] = True
        record("gaps", gap_mask, f"{report.missing_bars} missing bars")
    elif kind is DataKind.FUNDING:
        sorted_ts = ts[keep_sorted]
        hours = np.unique(np.round(np.diff(sorted_ts) / 3_600_000.0, 3))
        report.funding_intervals_h = [float(h) for h in hours[:10]]

    if prices is not None:
        close = frame[prices[3]].to_numpy(dtype=np.float64)[keep_sorted]
        with np.errstate(divide="ignore", invalid="ignore"):
            rets = np.diff(np.log(close))
        finite = rets[np.isfinite(rets)]
        mad = float(np.median(np.abs(finite - np.median(finite)))) * 1.4826 if finite.size else 0.0
        outlier = np.zeros(n, dtype=bool)
        if mad > 0:
            with np.errstate(invalid="ignore"):
                hits = np.flatnonzero(np.abs(rets) > policy.outlier_sigmas * mad)
            outlier[keep_sorted[hits + 1]] = True
        record("outlier_returns", outlier, f"|log return| > {policy.outlier_sigmas:g} robust sigmas")
    elif kind is DataKind.FUNDING:
        rate = frame["funding_rate"].to_numpy(dtype=np.float64)
        with np.errstate(invalid="ignore"):
            out = np.abs(rate) > policy.max_abs_funding_rate
        record("outlier_returns", out, f"|funding rate| > {policy.max_abs_funding_rate:g}")

    if not report.usable:
        return report, frame
    keep = ~drop
    if Policy(policy.duplicate_timestamps) is Policy.DROP:
        keep &= ~dup
    if Policy(policy.non_monotonic) is Policy.DROP:
        keep &= ~(backwards & ~dup)
    report.rows_dropped = int((~keep).sum())
    report.rows_marked = int((flags[keep] != 0).sum())
    cleaned = frame.loc[keep].copy()
    if report.rows_marked:
        cleaned[QUALITY_COLUMN] = flags[keep]
    cleaned = cleaned.sort_values("timestamp", kind="stable").reset_index(drop=True)
    return report, cleaned


def validate_series(
    frame: pd.DataFrame, key: SeriesKey, policy: ValidationPolicy | None = None, source: str = ""
) -> tuple[ValidationReport, pd.DataFrame]:
    """``validate`` with the bar grid (interval and offset) taken from the series key."""
    offset = interval_offset_ms(key.interval) if key.interval else 0
    label = f"{source} ({key.label()})" if source else key.label()
    return validate(frame, key.kind, key.interval_ms, policy, label, offset)


def require_usable(report: ValidationReport) -> None:
    """Raise ``DataError`` naming the first blocking problem when the report is not usable."""
    if not report.usable:
        raise DataError(report.blocking_message())


def required_columns(kind: DataKind) -> tuple[str, ...]:
    return REQUIRED_COLUMNS[kind]


def _run_lengths(mask: np.ndarray) -> list[int]:
    if not mask.any():
        return []
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [int(x) for x in edges[1::2] - edges[0::2]]


def _fmt_ms(ms: int) -> str:
    return pd.Timestamp(ms, unit="ms", tz="UTC").strftime("%Y-%m-%d %H:%M")


def _fmt_interval(ms: int) -> str:
    for unit, size in (("w", 604_800_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"
