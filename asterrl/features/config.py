"""Hydra structured config of the ``features`` group (``conf/features/*.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from omegaconf import MISSING


class NormalizationMode(StrEnum):
    """How feature columns are scaled before they reach a model.

    ``none``: raw values. ``rolling``: causal z-score over the last ``window`` bars of each column.
    ``fitted``: z-score with mean and std measured once on the training span and saved with the pipeline.
    """

    NONE = "none"
    ROLLING = "rolling"
    FITTED = "fitted"
    # Lower-case aliases so that configs can say `mode: fitted` (OmegaConf looks members up by name).
    none = "none"
    rolling = "rolling"
    fitted = "fitted"


@dataclass
class NormalizationConfig:
    """Scaling of the feature matrix."""

    #: none | rolling | fitted.
    mode: NormalizationMode = NormalizationMode.FITTED
    #: Bars in the rolling z-score window (``rolling`` mode only); adds ``window − 1`` bars of warm-up.
    window: int = 500
    #: Normalised values are clipped to ``[−clip, clip]`` (standard deviations); 0 disables clipping.
    clip: float = 5.0


@dataclass
class FeatureSpecConfig:
    """One feature in a set: a registry name, parameter overrides and how to name/express its columns."""

    #: Registry name (``asterrl features list`` shows them all).
    name: str = MISSING
    #: Parameter overrides; unlisted parameters keep their defaults.
    params: dict[str, Any] = field(default_factory=dict)
    #: Column prefix replacing ``<name>_<param values>``.
    alias: str | None = None
    #: Express price-level outputs (moving averages, bands, stops) as ``level / close − 1``.
    relative: bool = False
    #: Keep only these outputs of a multi-output feature (all when unset), e.g. ``[pctb, bandwidth]``.
    outputs: list[str] | None = None


@dataclass
class FeaturesConfig:
    """A named feature set and its normalisation."""

    #: Name recorded with saved pipelines and printed by the CLI.
    set_name: str = "default"
    features: list[FeatureSpecConfig] = field(default_factory=list)
    normalization: NormalizationConfig = field(default_factory=NormalizationConfig)
    #: Symbol whose closes feed the cross-asset features (e.g. ``BTCUSDT``); required only when they are used.
    reference_symbol: str | None = None
    #: Your own features: ``.py`` files or dotted modules imported before the set is resolved, each calling
    #: ``asterrl.features.registry.register`` (check them with ``asterrl features check-lookahead``).
    modules: list[str] = field(default_factory=list)
