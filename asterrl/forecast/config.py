"""Hydra structured config of the ``forecast`` group (``conf/forecast/*.yaml``).

Every length is in bars of the configured ``data.interval``; every rate is a plain fraction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from asterrl.errors import ConfigError

#: Base models the walk-forward can train, in the order their columns appear.
MODEL_NAMES: tuple[str, ...] = ("lstm", "cnn", "xgboost", "random_forest", "gbm")


class FoldScheme(StrEnum):
    """How training spans grow: ``expanding`` keeps every earlier bar, ``rolling`` the last ``train_bars``."""

    EXPANDING = "expanding"
    ROLLING = "rolling"
    # Lower-case aliases so that configs can say `scheme: rolling` (OmegaConf looks members up by name).
    expanding = "expanding"
    rolling = "rolling"


class FinalModels(StrEnum):
    """Models kept for live use: the last fold's, or a refit on every labelled bar."""

    LAST_FOLD = "last_fold"
    REFIT = "refit"
    last_fold = "last_fold"
    refit = "refit"


@dataclass
class FoldConfig:
    """Walk-forward fold plan.

    The first test span starts after ``min_train_fraction`` of the usable bars; the rest of the bars are cut
    into ``n_folds`` consecutive test spans. Training rows are purged (label window overlapping the test
    span) and embargoed (``embargo`` bars after a test span); validation rows for early stopping are the
    last ``val_fraction`` of each training span, purged the same way.
    """

    scheme: FoldScheme = FoldScheme.EXPANDING
    n_folds: int = 4
    #: Share of the usable bars (past the feature warm-up) before the first test span.
    min_train_fraction: float = 0.4
    #: Training bars per fold for ``rolling`` (0: the first fold's training length).
    train_bars: int = 0
    #: Extra bars dropped before each test span on top of the ``horizon`` bars the purge always drops.
    purge: int = 0
    #: Bars after each test span removed from training; -1 means ``horizon`` (the minimum accepted).
    embargo: int = -1
    #: Share of each training span (its end) held out for early stopping.
    val_fraction: float = 0.15


@dataclass
class NetConfig:
    """A torch sequence model (LSTM with attention, or 1-D CNN) with return and up-probability heads."""

    #: Hidden units (LSTM) or channels (CNN).
    hidden: int = 32
    #: Recurrent layers (LSTM) or convolution blocks (CNN).
    layers: int = 3
    #: Convolution kernel width, bars (CNN only).
    kernel: int = 5
    dropout: float = 0.1
    epochs: int = 6
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 1e-5
    #: Epochs without validation improvement before stopping.
    patience: int = 2
    #: Training samples drawn per epoch (0: all); caps the cost of long expanding spans.
    max_samples_per_epoch: int = 8192


@dataclass
class TreeConfig:
    """An XGBoost booster pair (return regressor + up classifier); tree_method is always ``hist``."""

    n_estimators: int = 200
    learning_rate: float = 0.05
    max_depth: int = 4
    #: Leaf-wise growth cap (``gbm`` only; 0 = unlimited).
    max_leaves: int = 0
    subsample: float = 0.8
    colsample: float = 0.8
    min_child_weight: float = 5.0
    reg_lambda: float = 1.0
    reg_alpha: float = 0.0
    #: Rounds without validation improvement before stopping (0: no early stopping, e.g. a forest).
    early_stopping: int = 20


@dataclass
class EnsembleConfig:
    """Stacked meta-learner on the base models' out-of-fold forecasts (ridge: returns, logistic: ups)."""

    enabled: bool = True
    #: L2 penalty of both meta-learners (on standardised inputs).
    ridge: float = 1.0
    #: Out-of-fold rows needed to fit the meta-learner; fewer: the equal-weight mean of the base models.
    min_rows: int = 200


@dataclass
class ImportanceConfig:
    """Permutation importance, measured on the test span of the last fold (gain comes from the trees)."""

    enabled: bool = True
    #: Test rows scored (the most recent ones), to bound the cost.
    max_rows: int = 2000
    repeats: int = 1


@dataclass
class ForecastConfig:
    """Supervised forecasts of the ``horizon``-bar forward log return and its sign, walk-forward.

    :param horizon: ``h``: the label at bar t is ``ln(close[t+h] / close[t])``, known at bar t+h's close.
    :param window: past bars fed to the sequence models (every model starts at the same first row).
    :param models: base models to train (subset of ``lstm cnn xgboost random_forest gbm``).
    :param output_dir: artifact directory; empty: ``$ASTERRL_HOME/forecasts/<symbol>_<interval>_h<h>``.
    :param artifacts: a trained artifact directory whose forecast columns join the RL observation
        (empty: none). The env matches rows by timestamp; bars without a forecast hold NaN (warm-up).
    :param observe: which columns join the observation: model names and/or ``ensemble``; empty: all.
    :param device: ``auto`` (CUDA when torch sees it), ``cpu`` or ``cuda``.
    :param torch_threads: intra-op CPU threads of torch.
    """

    horizon: int = 4
    window: int = 32
    models: list[str] = field(default_factory=lambda: list(MODEL_NAMES))
    folds: FoldConfig = field(default_factory=FoldConfig)
    lstm: NetConfig = field(default_factory=NetConfig)
    cnn: NetConfig = field(default_factory=lambda: NetConfig(hidden=32, layers=3, epochs=8))
    xgboost: TreeConfig = field(default_factory=TreeConfig)
    random_forest: TreeConfig = field(
        default_factory=lambda: TreeConfig(
            n_estimators=100, learning_rate=1.0, max_depth=6, subsample=0.632, colsample=0.5,
            min_child_weight=20.0, reg_lambda=0.0, early_stopping=0,
        )
    )  # fmt: skip
    gbm: TreeConfig = field(
        default_factory=lambda: TreeConfig(
            n_estimators=300, learning_rate=0.03, max_depth=0, max_leaves=15, subsample=0.7, colsample=1.0,
            min_child_weight=20.0, reg_lambda=0.0,
        )
    )  # fmt: skip
    ensemble: EnsembleConfig = field(default_factory=EnsembleConfig)
    importance: ImportanceConfig = field(default_factory=ImportanceConfig)
    final: FinalModels = FinalModels.LAST_FOLD
    output_dir: str = ""
    artifacts: str = ""
    observe: list[str] = field(default_factory=list)
    device: str = "auto"
    torch_threads: int = 1

    @property
    def embargo(self) -> int:
        """Embargo in bars (``folds.embargo``, ``horizon`` when -1)."""
        return self.horizon if self.folds.embargo < 0 else self.folds.embargo

    def validate(self) -> ForecastConfig:
        """Raise ``ConfigError`` on an unknown model or an out-of-range number; return ``self``."""
        if self.horizon < 1 or self.window < 1:
            raise ConfigError("forecast.horizon and forecast.window must be >= 1")
        unknown = [m for m in self.models if m not in MODEL_NAMES]
        if unknown or not self.models:
            raise ConfigError(
                f"forecast.models: unknown {', '.join(unknown) or '(empty list)'}; "
                f"choose from {', '.join(MODEL_NAMES)}"
            )
        if len(set(self.models)) != len(self.models):
            raise ConfigError("forecast.models lists a model twice")
        bad_observe = [c for c in self.observe if c not in (*self.models, "ensemble")]
        if bad_observe:
            raise ConfigError(f"forecast.observe: {', '.join(bad_observe)} not among the models or ensemble")
        f = self.folds
        if f.n_folds < 1 or not 0.0 < f.min_train_fraction < 1.0 or not 0.0 < f.val_fraction < 0.5:
            raise ConfigError(
                "forecast.folds: n_folds >= 1, min_train_fraction in (0, 1), val_fraction in (0, 0.5)"
            )
        if f.purge < 0 or f.train_bars < 0:
            raise ConfigError("forecast.folds.purge and train_bars must be >= 0")
        if self.embargo < self.horizon:
            raise ConfigError(
                f"forecast.folds.embargo={self.embargo} is below the horizon ({self.horizon} bars)"
            )
        for name in ("lstm", "cnn"):
            net: NetConfig = getattr(self, name)
            if min(net.hidden, net.layers, net.kernel, net.epochs, net.batch_size) < 1 or net.lr <= 0:
                raise ConfigError(f"forecast.{name}: sizes, epochs, batch_size and lr must be positive")
            if not 0.0 <= net.dropout < 1.0:
                raise ConfigError(f"forecast.{name}.dropout must lie in [0, 1)")
        for name in ("xgboost", "random_forest", "gbm"):
            tree: TreeConfig = getattr(self, name)
            if tree.n_estimators < 1 or tree.learning_rate <= 0 or not 0 < tree.subsample <= 1:
                raise ConfigError(
                    f"forecast.{name}: n_estimators >= 1, learning_rate > 0, subsample in (0, 1]"
                )
            if not 0 < tree.colsample <= 1 or tree.max_depth < 0 or tree.max_leaves < 0:
                raise ConfigError(f"forecast.{name}: colsample in (0, 1], max_depth and max_leaves >= 0")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"forecast.device={self.device!r}; expected auto, cpu or cuda")
        if self.torch_threads < 1:
            raise ConfigError("forecast.torch_threads must be >= 1")
        return self
