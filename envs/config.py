"""``EnvConfig``: the Hydra structured config of ``AsterPerpEnv`` (``conf/env/default.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from asterrl.errors import ConfigError
from asterrl.sim.config import MarketModelConfig

REWARDS = ("log_return", "differential_sharpe")
ACTION_TYPES = ("discrete", "continuous")
OBSERVATION_KINDS = ("box", "dict")
ORDER_TYPES = ("market", "limit")
AUTORESET_MODES = ("next_step", "same_step")


#: Split names in time order, as used by ``split_fractions``.
SPLIT_NAMES = ("train", "validation", "test")


@dataclass
class EnvConfig:
    """Settings of the trading environment.

    :param symbol: market traded, read from the store when no data is given.
    :param interval: bar interval of the stored series (e.g. ``1h``).
    :param data_path: bars file (CSV/Parquet, canonical columns) used instead of the store; ``null`` = store.
    :param funding_path: funding file, optional; ``null`` reads the store's funding when the store is used.
    :param mark_path: mark-price file, optional.
    :param initial_balance: starting wallet, USDT.
    :param window: bars of features in each observation.
    :param observation: ``box`` (one flat float32 vector) or ``dict`` (``features`` and ``account``).
    :param action_type: ``discrete`` (index into ``action_levels``) or ``continuous`` (a value in [-1, 1]).
    :param action_levels: target positions as fractions of the position scale, for discrete actions.
    :param deadband: a target within this distance (in fractions of the scale) of the current position
        is not traded.
    :param min_hold_bars: bars a position is held after a fill before the agent may trade again (the risk
        gate may still trim it).
    :param order_type: ``market``, or ``limit`` one-bar limit orders at the decision close offset by
        ``limit_offset_bps`` in the trader's favour.
    :param limit_offset_bps: offset of limit orders from the decision close, bps.
    :param reward: ``log_return`` (log equity change) or ``differential_sharpe`` (Moody-Saffell).
    :param dsr_eta: adaptation rate of the differential Sharpe ratio's moving moments.
    :param drawdown_penalty: reward minus this times the current drawdown (fraction of peak).
    :param turnover_penalty: reward minus this times traded notional over equity.
    :param reward_scale: multiplier of the final reward.
    :param episode_length: steps per episode; 0 runs to the end of the split.
    :param random_start: draw each episode's start uniformly within the split (else start at its beginning).
    :param split: which of ``splits`` episodes come from.
    :param splits: inclusive UTC date ranges ``[first_day, last_day]`` per split name; empty (the default)
        splits the loaded bars by ``split_fractions`` instead, so one config fits any data span.
    :param split_fractions: shares of the bars for train, validation and test, in time order (used when
        ``splits`` is empty).
    :param autoreset_mode: vector env autoreset, ``next_step`` (Gymnasium's default, RLlib) or
        ``same_step`` (final observation in ``info["final_obs"]``).
    :param market: the market model (fees, slippage, filters, margin).
    """

    symbol: str = "BTCUSDT"
    interval: str = "1h"
    data_path: str | None = None
    funding_path: str | None = None
    mark_path: str | None = None
    initial_balance: float = 10_000.0
    window: int = 32
    observation: str = "box"
    action_type: str = "discrete"
    action_levels: list[float] = field(default_factory=lambda: [-1.0, -0.5, 0.0, 0.5, 1.0])
    deadband: float = 0.05
    min_hold_bars: int = 0
    order_type: str = "market"
    limit_offset_bps: float = 0.0
    reward: str = "log_return"
    dsr_eta: float = 0.01
    drawdown_penalty: float = 0.0
    turnover_penalty: float = 0.0
    reward_scale: float = 1.0
    episode_length: int = 720
    random_start: bool = True
    split: str = "train"
    splits: dict[str, list[str]] = field(default_factory=dict)
    split_fractions: list[float] = field(default_factory=lambda: [0.7, 0.15, 0.15])
    autoreset_mode: str = "next_step"
    market: MarketModelConfig = field(default_factory=MarketModelConfig)

    def validate(self) -> EnvConfig:
        """Raise ``ConfigError`` on an unknown choice or an out-of-range number; return ``self``."""
        choices = {
            "reward": (self.reward, REWARDS),
            "action_type": (self.action_type, ACTION_TYPES),
            "observation": (self.observation, OBSERVATION_KINDS),
            "order_type": (self.order_type, ORDER_TYPES),
            "autoreset_mode": (self.autoreset_mode, AUTORESET_MODES),
        }
        for name, (value, allowed) in choices.items():
            if value not in allowed:
                raise ConfigError(f"env.{name}={value!r}; expected one of {', '.join(allowed)}")
        if not self.initial_balance > 0.0:
            raise ConfigError("env.initial_balance must be > 0")
        if self.window < 1 or self.episode_length < 0 or self.min_hold_bars < 0:
            raise ConfigError("env.window must be >= 1, episode_length and min_hold_bars >= 0")
        if not self.action_levels or any(not -1.0 <= a <= 1.0 for a in self.action_levels):
            raise ConfigError("env.action_levels must be a non-empty list of values in [-1, 1]")
        if not (0.0 <= self.deadband < 2.0 and 0.0 < self.dsr_eta < 1.0 and self.limit_offset_bps >= 0.0):
            raise ConfigError("env.deadband must lie in [0, 2), dsr_eta in (0, 1), limit_offset_bps >= 0")
        if self.drawdown_penalty < 0.0 or self.turnover_penalty < 0.0 or not self.reward_scale > 0.0:
            raise ConfigError("env penalties must be >= 0 and reward_scale > 0")
        names = sorted(self.splits) if self.splits else list(SPLIT_NAMES)
        if self.split not in names:
            raise ConfigError(f"env.split={self.split!r} is not one of the splits {', '.join(names)}")
        fractions = self.split_fractions
        if len(fractions) != 3 or min(fractions) <= 0.0 or abs(sum(fractions) - 1.0) > 1e-9:
            raise ConfigError(
                "env.split_fractions must be three positive shares (train, validation, test) summing to 1"
            )
        for name, bounds in self.splits.items():
            if len(bounds) != 2:
                raise ConfigError(f"env.splits.{name} must be [first_day, last_day]")
        self.market.validate()
        return self
