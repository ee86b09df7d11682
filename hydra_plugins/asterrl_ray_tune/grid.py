"""The grid a sweep covers: Hydra's sweep overrides (comma lists, ``choice``, ``range``) as Tune grid axes."""

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hydra.core.override_parser.types import Override

from experiments.sweep_errors import SweepError

__all__ = ["SweepError", "SweepGrid", "sweep_grid"]


@dataclass(frozen=True)
class SweepGrid:
    """Overrides shared by every trial plus the swept keys, each with its values in command-line order.

    :param fixed: overrides every trial gets, e.g. ``("data=synthetic",)``.
    :param axes: swept key -> its values as override text, e.g. ``{"agent.lr": ("0.0001", "0.0003")}``.
    """

    fixed: tuple[str, ...]
    axes: Mapping[str, tuple[str, ...]]

    def points(self) -> list[tuple[str, ...]]:
        """Every combination of the axes' values (one per trial), the last axis varying fastest, as Hydra's
        basic sweeper orders its jobs; one empty combination when nothing is swept."""
        return list(itertools.product(*self.axes.values()))

    def overrides(self, point: Sequence[str]) -> list[str]:
        """The overrides of the trial at ``point`` (one value per axis, in axis order)."""
        if len(point) != len(self.axes):
            raise ValueError(f"a point of this grid has {len(self.axes)} values, got {len(point)}")
        return [*self.fixed, *(f"{key}={value}" for key, value in zip(self.axes, point, strict=True))]


def sweep_grid(overrides: Sequence[Override]) -> SweepGrid:
    """The grid of parsed overrides (``OverridesParser.parse_overrides``); a key given twice keeps its
    first place and its last value, as in Hydra's basic sweeper.

    :raises SweepError: for a sweep without a finite list of values (``interval``).
    """
    entries: dict[str, str | tuple[str, ...]] = {}
    for override in overrides:
        key = override.get_key_element()
        if not override.is_sweep_override():
            entries[key] = override.input_line or f"{key}={override.get_value_element_as_str()}"
        elif override.is_discrete_sweep():
            entries[key] = tuple(override.sweep_string_iterator())
        else:
            raise SweepError(
                f"the ray_tune sweeper runs a grid: {override.input_line} has no finite list of values "
                "(use a comma list, choice(...) or range(...))"
            )
    fixed = tuple(value for value in entries.values() if isinstance(value, str))
    axes = {key: value for key, value in entries.items() if isinstance(value, tuple)}
    return SweepGrid(fixed, axes)
