"""Parameter grids of a rule agent: every combination of the given values, and the targets of all of them
as one ``(bars, sets)`` matrix, the input of the backtester's one-pass grid run.

Combinations the agent's own validation refuses (a fast average longer than the slow one, say) are left
out and counted. Moving-average lines, channels and volatilities that several settings share are
computed once.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from agents.config import SmaCrossConfig
from agents.policy import ActionMapping
from agents.registry import build_rule_agent
from agents.rules.base import PriceSeries
from agents.rules.kernels import crossover_targets
from asterrl.errors import ConfigError
from asterrl.features.kernels.rolling import sma


@dataclass(frozen=True)
class ParameterGrid:
    """The valid settings of a grid.

    :param configs: one validated agent config per setting.
    :param params: the swept values of each setting (``{"fast": 12, "slow": 48}``).
    :param skipped: combinations the agent refused.
    """

    configs: tuple[Any, ...]
    params: tuple[dict[str, Any], ...]
    skipped: int

    def __len__(self) -> int:
        return len(self.configs)

    def label(self, index: int) -> str:
        """``name(key=value,...)`` of one setting."""
        values = ",".join(f"{k}={v}" for k, v in self.params[index].items())
        return f"{self.configs[index].name}({values})"


def with_value(config: Any, key: str, value: Any) -> Any:
    """``config`` with the (dotted) field ``key`` set to ``value``; ``ConfigError`` for an unknown field."""
    head, _, rest = key.partition(".")
    fields = {f.name for f in dataclasses.fields(config)}
    if head not in fields:
        raise ConfigError(f"agent.{key}: {type(config).__name__} has no field {head!r}")
    inner = with_value(getattr(config, head), rest, value) if rest else value
    return dataclasses.replace(config, **{head: inner})


def parameter_grid(base: Any, values: Mapping[str, Sequence[Any]]) -> ParameterGrid:
    """Every combination of ``values`` (field -> candidate values) applied to ``base``."""
    if not values:
        return ParameterGrid((base.validate(),), ({},), 0)
    keys = list(values)
    for key in keys:
        if not list(values[key]):
            raise ConfigError(f"grid.{key} lists no values")
    configs, params, skipped = [], [], 0
    for combo in itertools.product(*(list(values[k]) for k in keys)):
        setting = dict(zip(keys, combo, strict=True))
        cfg = base
        for key, value in setting.items():
            cfg = with_value(cfg, key, value)
        try:
            configs.append(cfg.validate())
        except ConfigError:
            skipped += 1
            continue
        params.append(setting)
    if not configs:
        raise ConfigError(f"no combination of the grid ({', '.join(keys)}) is a valid {base.name} setting")
    return ParameterGrid(tuple(configs), tuple(params), skipped)


def sweep_targets(
    grid: ParameterGrid, series: PriceSeries, mapping: ActionMapping
) -> npt.NDArray[np.float64]:
    """Targets of every setting at every bar, ``(bars, settings)``, fractions of the position scale."""
    out = np.empty((series.close.shape[0], len(grid)), dtype=np.float64)
    if all(isinstance(cfg, SmaCrossConfig) for cfg in grid.configs):
        lines: dict[int, npt.NDArray[np.float64]] = {}
        for j, cfg in enumerate(grid.configs):
            for window in (cfg.fast, cfg.slow):
                if window not in lines:
                    lines[window] = sma(series.close, window)
            out[:, j] = crossover_targets(lines[cfg.fast], lines[cfg.slow], cfg.fraction, cfg.allow_short)
        return out
    for j, cfg in enumerate(grid.configs):
        out[:, j] = build_rule_agent(cfg, mapping).prepare(series).targets
    return out
