"""The results table of a sweep: one row per job, printed and written as CSV in the sweep directory.

Both sweepers build their rows with ``sweep_row`` (Hydra's basic sweeper in ``experiments.hydra_cli``, the
Ray Tune sweeper here), so a sweep prints the same table whichever ran it.
"""

import csv
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from asterrl.files import atomic_write

#: A cell of the table: an override value, a metric, a path or a message.
Cell = str | int | float | bool | None
Row = Mapping[str, Cell]

#: Name of the results table in the sweep directory.
RESULTS_CSV = "results.csv"
#: Columns of the CSV that the printed table leaves out (long paths).
PATH_COLUMNS = ("run_dir", "checkpoint", "best")


def sweep_row(job: int, point: Mapping[str, str], outcome: Mapping[str, Cell]) -> dict[str, Cell]:
    """One row: the job number, the swept keys' values, then ``status`` (``ok`` or ``failed``), the job's
    summary and, for a failed job, ``error``.

    :param outcome: what the job returned (an ``error`` entry marks it failed).
    """
    values = dict(outcome)
    error = values.pop("error", None)
    status = "failed" if error or values.get("status") == "failed" else "ok"
    values.pop("status", None)
    values.pop("job", None)
    row: dict[str, Cell] = {"job": job, **{key: str(value) for key, value in point.items()}}
    row["status"] = status
    row.update({key: value for key, value in values.items() if key not in point})
    if error:
        row["error"] = str(error)
    return row


def publish(rows: Sequence[Row], sweep_dir: Path) -> Path:
    """Write ``<sweep_dir>/results.csv``, print the table (paths left out) and where it was written."""
    table = write_csv(rows, sweep_dir / RESULTS_CSV)
    print(format_table(rows, hidden=PATH_COLUMNS))
    print(f"results: {table}", flush=True)
    return table


def columns(rows: Sequence[Row]) -> list[str]:
    """Every key of the rows, in the order each first appears."""
    return list(dict.fromkeys(key for row in rows for key in row))


def write_csv(rows: Sequence[Row], path: Path) -> Path:
    """Write the rows as CSV (a key a row lacks is an empty cell); floats keep full precision."""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=columns(rows), restval="")
    writer.writeheader()
    writer.writerows(rows)
    return atomic_write(path, buffer.getvalue())


def format_table(rows: Sequence[Row], hidden: Sequence[str] = ()) -> str:
    """Aligned text table of the rows (floats to 4 significant digits), without the ``hidden`` columns."""
    names = [name for name in columns(rows) if name not in hidden]
    cells = [[_text(row.get(name)) for name in names] for row in rows]
    widths = [max([len(name)] + [len(line[i]) for line in cells]) for i, name in enumerate(names)]
    lines = ["  ".join(name.ljust(w) for name, w in zip(names, widths, strict=True))]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) for line in cells]
    return "\n".join(line.rstrip() for line in lines)


def _text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.4g}"
    return str(value)
