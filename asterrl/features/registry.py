"""The feature registry: every feature's name, parameters and defaults, the inputs it needs, its output
columns and its warm-up. The pipeline, ``asterrl features list`` and the causality tests all iterate it."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType, ModuleType

import numpy as np

from asterrl.errors import ConfigError
from asterrl.features.inputs import Input, MarketInputs

ParamValue = int | float
Params = Mapping[str, ParamValue]
ComputeFn = Callable[[MarketInputs, Params], tuple[np.ndarray, ...]]
WarmupFn = Callable[[Params], int]


@dataclass(frozen=True)
class FeatureDef:
    """One registered feature.

    :param name: registry key, e.g. ``rsi``.
    :param family: trend, momentum, volatility, volume, statistics, demark, microstructure, funding, time,
        cross_asset.
    :param summary: one line with units.
    :param params: parameter defaults, in the order used to name columns.
    :param outputs: output names; a single-output feature's column is just its prefix.
    :param compute: kernel wrapper returning one float64 array per output.
    :param warmup: bars before every output is defined (for inputs without gaps in optional series).
    :param requires: optional inputs needed beyond OHLCV.
    :param price_outputs: outputs in quote currency, which ``relative: true`` turns into ``level/close − 1``.
    :param minimums: lowest accepted value of a parameter (default 1 for integers, > 0 for floats).
    :param may_be_undefined: outputs that can stay NaN past the warm-up (e.g. before the first funding
        settlement or the first completed TD setup); the pipeline reports them as 0 after normalisation.
    """

    name: str
    family: str
    summary: str
    params: Mapping[str, ParamValue]
    outputs: tuple[str, ...]
    compute: ComputeFn
    warmup: WarmupFn
    requires: frozenset[Input] = frozenset()
    price_outputs: frozenset[str] = frozenset()
    minimums: Mapping[str, ParamValue] = field(default_factory=dict)
    may_be_undefined: frozenset[str] = frozenset()

    def resolve(self, overrides: Mapping[str, object] | None = None) -> dict[str, ParamValue]:
        """Defaults updated with ``overrides``, type-checked and range-checked."""
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(self.params))
        if unknown:
            known = ", ".join(self.params) or "none"
            raise ConfigError(
                f"feature {self.name}: unknown parameter(s) {', '.join(unknown)} (known: {known})"
            )
        resolved: dict[str, ParamValue] = {}
        for key, default in self.params.items():
            value = overrides.get(key, default)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"feature {self.name}: parameter {key} must be a number, got {value!r}")
            if isinstance(default, int):
                if isinstance(value, float) and not value.is_integer():
                    raise ConfigError(f"feature {self.name}: parameter {key} must be an integer, got {value}")
                value = int(value)
                lowest = self.minimums.get(key, 1)
                if value < lowest:
                    raise ConfigError(
                        f"feature {self.name}: parameter {key} must be >= {lowest}, got {value}"
                    )
            else:
                value = float(value)
                lowest = self.minimums.get(key, 0.0)
                if not np.isfinite(value) or value <= lowest:
                    raise ConfigError(f"feature {self.name}: parameter {key} must be > {lowest}, got {value}")
            resolved[key] = value
        return resolved

    def describe(self) -> str:
        """``name(p=default, ...) -> outputs  [needs ...]`` for ``asterrl features list``."""
        params = ", ".join(f"{k}={v}" for k, v in self.params.items())
        needs = f"  [needs {', '.join(sorted(i.value for i in self.requires))}]" if self.requires else ""
        return f"{self.name}({params}) -> {', '.join(self.outputs)}{needs}  # {self.summary}"


_REGISTRY: dict[str, FeatureDef] = {}
#: Read-only view of every registered feature by name (filled when ``asterrl.features.catalog`` is imported).
REGISTRY: Mapping[str, FeatureDef] = MappingProxyType(_REGISTRY)


def register(definition: FeatureDef) -> FeatureDef:
    """Add a feature to the registry (names are unique).

    Your own features register the same way, from a module named in ``features.modules``:
    ``register(FeatureDef("my_feature", "trend", "what it is, units", {"window": 24}, ("value",), compute,
    warmup))``. ``asterrl features check-lookahead`` then tells whether they peek at the future.
    """
    if definition.name in _REGISTRY:
        raise ConfigError(f"feature {definition.name} registered twice")
    _REGISTRY[definition.name] = definition
    return definition


#: User modules already imported, by resolved file path or module name (importing twice would register
#: their features twice).
_LOADED_MODULES: dict[str, ModuleType] = {}


def load_feature_modules(modules: Sequence[str]) -> None:
    """Import each of ``modules`` (a ``.py`` file path or a dotted module name) once, so that the features
    they ``register`` can be named in a set (``features.modules``)."""
    for entry in modules:
        path = Path(entry).expanduser()
        is_file = entry.endswith(".py")
        key = str(path.resolve()) if is_file else entry
        if key in _LOADED_MODULES:
            continue
        if is_file and not path.is_file():
            raise ConfigError(f"features.modules: no such file {entry}")
        try:
            if is_file:
                name = "asterrl_user_features_" + "".join(c if c.isalnum() else "_" for c in key)
                spec = importlib.util.spec_from_file_location(name, path)
                assert spec is not None and spec.loader is not None
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
            else:
                module = importlib.import_module(entry)
        except ConfigError:
            raise
        except Exception as exc:  # a user's module: any failure ends as one line naming it
            raise ConfigError(
                f"features.modules: importing {entry} failed: {type(exc).__name__}: {exc}"
            ) from None
        _LOADED_MODULES[key] = module


def get_feature(name: str) -> FeatureDef:
    """The registered feature ``name``, or a ``ConfigError`` listing near names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        close = [k for k in _REGISTRY if k.startswith(name[:3])]
        hint = f"; did you mean {', '.join(close)}?" if close else "; run `asterrl features list`"
        raise ConfigError(f"unknown feature {name!r}{hint}") from None


#: Order in which families are listed.
FAMILIES = (
    "momentum", "trend", "volatility", "volume", "statistics", "demark", "microstructure", "funding", "time",
    "cross_asset",
)  # fmt: skip


def iter_features() -> Iterator[FeatureDef]:
    """Registered features grouped by family (in ``FAMILIES`` order), then in registration order."""
    rank = {family: i for i, family in enumerate(FAMILIES)}
    yield from sorted(_REGISTRY.values(), key=lambda d: rank.get(d.family, len(FAMILIES)))


def format_param(value: ParamValue) -> str:
    """Parameter as used in column names: ``14``, ``2`` for 2.0, ``0.02``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)
