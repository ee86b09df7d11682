"""Hydra structured configs of every agent (``conf/agent/*.yaml``), validated on load.

The ``agent`` config group holds one option per agent. Each option's YAML starts from the schema stored
here (``defaults: [ppo_schema, _self_]``), so ``agent`` composes to the right dataclass and unknown keys or
wrong types fail at load time. ``register()`` stores the schemas in Hydra's ConfigStore.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore

from asterrl.errors import ConfigError

PPO_FRAMEWORKS = ("rllib", "sb3")
LEARNER_DEVICES = ("auto", "cpu", "cuda")
ACTIVATIONS = ("tanh", "relu")


@dataclass
class PPOConfig:
    """PPO, trained with RLlib (new API stack) or Stable-Baselines3 on the same env and hyperparameters.

    :param name: run name of the agent (TensorBoard run, run directory).
    :param framework: ``rllib`` or ``sb3`` (the baseline).
    :param lr: Adam learning rate.
    :param gamma: discount factor per bar.
    :param lambda_: GAE lambda.
    :param clip_param: PPO ratio clip epsilon.
    :param vf_clip_param: clip of the value-function loss (RLlib; SB3 leaves it unclipped when ``<= 0``).
    :param entropy_coeff: weight of the entropy bonus.
    :param vf_loss_coeff: weight of the value loss.
    :param use_kl_loss: add the adaptive KL penalty (RLlib; RLlib reports the policy KL only with it on).
        SB3 has no KL penalty: there it sets ``target_kl = kl_target`` (early stop of the epochs).
    :param kl_coeff: initial KL penalty coefficient (RLlib).
    :param kl_target: KL target; SB3 stops an update's epochs early above 1.5x this when ``> 0``.
    :param grad_clip: global gradient-norm clip.
    :param train_batch_size: env steps collected per training iteration (all runners and envs together).
    :param minibatch_size: SGD minibatch, env steps.
    :param num_epochs: passes over each batch.
    :param hidden_sizes: units of each hidden layer of the policy and value networks.
    :param activation: ``tanh`` or ``relu``.
    :param use_lstm: put an LSTM after the hidden layers (RLlib only).
    :param lstm_cell_size: LSTM units.
    :param max_seq_len: LSTM training sequence length, steps.
    :param num_env_runners: RLlib env-runner processes; 0 samples in the driver.
    :param num_envs_per_env_runner: accounts of the batched vector env in each runner (SB3: in the one env).
    :param rollout_fragment_length: steps each env collects per sample call; 0 lets RLlib derive it.
    :param learner_device: ``auto`` (RLlib: the GPU when torch sees one and a timed PPO update of this
        network is faster there; SB3: the CPU), ``cpu`` or ``cuda``.
    :param torch_threads: torch intra-op threads of the learner and runners.
    """

    name: str = "ppo"
    framework: str = "rllib"
    lr: float = 3e-4
    gamma: float = 0.99
    lambda_: float = 0.95
    clip_param: float = 0.2
    vf_clip_param: float = 10.0
    entropy_coeff: float = 0.01
    vf_loss_coeff: float = 0.5
    use_kl_loss: bool = True
    kl_coeff: float = 0.2
    kl_target: float = 0.01
    grad_clip: float = 0.5
    train_batch_size: int = 16384
    minibatch_size: int = 1024
    num_epochs: int = 4
    hidden_sizes: list[int] = field(default_factory=lambda: [64, 64])
    activation: str = "tanh"
    use_lstm: bool = False
    lstm_cell_size: int = 64
    max_seq_len: int = 32
    num_env_runners: int = 0
    num_envs_per_env_runner: int = 256
    rollout_fragment_length: int = 0
    learner_device: str = "auto"
    torch_threads: int = 1

    def validate(self) -> PPOConfig:
        """Raise ``ConfigError`` on an unknown choice or an out-of-range number; return ``self``."""
        _choice("agent.framework", self.framework, PPO_FRAMEWORKS)
        _choice("agent.learner_device", self.learner_device, LEARNER_DEVICES)
        _choice("agent.activation", self.activation, ACTIVATIONS)
        if not (0.0 < self.lr < 1.0 and 0.0 < self.gamma <= 1.0 and 0.0 <= self.lambda_ <= 1.0):
            raise ConfigError("agent.lr must lie in (0, 1), gamma in (0, 1], lambda_ in [0, 1]")
        if not (self.clip_param > 0.0 and self.entropy_coeff >= 0.0 and self.vf_loss_coeff >= 0.0):
            raise ConfigError("agent.clip_param must be > 0, entropy_coeff and vf_loss_coeff >= 0")
        if self.train_batch_size < 1 or not 1 <= self.minibatch_size <= self.train_batch_size:
            raise ConfigError("agent.minibatch_size must lie in [1, train_batch_size]")
        if self.num_epochs < 1 or self.num_env_runners < 0 or self.num_envs_per_env_runner < 1:
            raise ConfigError(
                "agent.num_epochs and num_envs_per_env_runner must be >= 1, num_env_runners >= 0"
            )
        if not self.hidden_sizes or any(h < 1 for h in self.hidden_sizes):
            raise ConfigError("agent.hidden_sizes must be a non-empty list of positive sizes")
        if self.use_lstm and (self.lstm_cell_size < 1 or self.max_seq_len < 1):
            raise ConfigError("agent.lstm_cell_size and max_seq_len must be >= 1")
        if self.use_lstm and self.framework == "sb3":
            raise ConfigError("agent.use_lstm needs framework=rllib (SB3's PPO has no recurrent policy)")
        if self.rollout_fragment_length < 0 or self.torch_threads < 1 or self.grad_clip <= 0.0:
            raise ConfigError("agent.rollout_fragment_length must be >= 0, torch_threads >= 1, grad_clip > 0")
        return self


@dataclass
class BuyAndHoldConfig:
    """The reference: long from the first decision to the end.

    :param leverage: target position notional over equity (1.0 = unlevered), capped at the env's
        position scale.
    """

    name: str = "buy_and_hold"
    leverage: float = 1.0

    def validate(self) -> BuyAndHoldConfig:
        if not self.leverage > 0.0:
            raise ConfigError("agent.leverage must be > 0")
        return self


@dataclass
class GridConfig:
    """Grid trading around a moving anchor with levels spaced by ATR.

    Lines sit at ``anchor + j * spacing`` (``anchor`` = EMA of the close, ``spacing`` = ``spacing_atr`` x
    ATR). Each line crossed downwards buys one unit, each crossed upwards sells one; holdings stay within
    ``levels`` units. A close more than ``levels + stop_levels`` lines from the anchor flattens the grid
    until the price comes back inside it.

    :param atr_period: ATR period, bars.
    :param anchor_period: EMA period of the anchor, bars.
    :param spacing_atr: line spacing in ATRs.
    :param levels: units on each side; one unit is ``max_fraction / levels`` of the position scale.
    :param stop_levels: extra lines beyond the grid that stop it out (0 disables the stop).
    :param max_fraction: position at a full grid, fraction of the position scale.
    :param allow_short: hold short units above the anchor (else only long ones).
    """

    name: str = "grid"
    atr_period: int = 14
    anchor_period: int = 48
    spacing_atr: float = 1.0
    levels: int = 4
    stop_levels: float = 2.0
    max_fraction: float = 1.0
    allow_short: bool = True

    def validate(self) -> GridConfig:
        if self.atr_period < 1 or self.anchor_period < 1 or self.levels < 1:
            raise ConfigError("agent.atr_period, anchor_period and levels must be >= 1")
        if not (self.spacing_atr > 0.0 and self.stop_levels >= 0.0):
            raise ConfigError("agent.spacing_atr must be > 0 and stop_levels >= 0")
        _fraction("agent.max_fraction", self.max_fraction)
        return self


@dataclass
class VolTrendConfig:
    """Volatility-targeted trend following: Donchian breakout entries, a shorter channel for exits.

    Long when the close breaks above the highest high of the previous ``entry_window`` bars, out when it
    falls below the lowest low of the previous ``exit_window`` bars (short side mirrored). The size is
    ``target_volatility / realised volatility`` (both annualised), capped at ``max_fraction``.

    :param entry_window: breakout channel, bars.
    :param exit_window: exit channel, bars.
    :param vol_window: bars of one-bar log returns in the realised volatility.
    :param target_volatility: annualised volatility the position aims at (0.5 = 50 %/yr): the leverage is
        ``target_volatility / realised volatility``.
    :param max_fraction: cap of the position, fraction of the position scale.
    :param allow_short: trade downside breakouts short.
    """

    name: str = "vol_trend"
    entry_window: int = 48
    exit_window: int = 24
    vol_window: int = 72
    target_volatility: float = 0.5
    max_fraction: float = 1.0
    allow_short: bool = True

    def validate(self) -> VolTrendConfig:
        if self.entry_window < 1 or self.exit_window < 1 or self.vol_window < 2:
            raise ConfigError("agent.entry_window and exit_window must be >= 1, vol_window >= 2")
        if not self.target_volatility > 0.0:
            raise ConfigError("agent.target_volatility must be > 0")
        _fraction("agent.max_fraction", self.max_fraction)
        return self


@dataclass
class HybridConfig:
    """Regime switch between trend following and grid trading on ADX and a volatility ratio.

    Trending when ADX >= ``adx_trend``, ranging when ADX <= ``adx_range`` (in between the last regime
    holds); flat whatever the ADX when short-over-long realised volatility exceeds ``vol_ratio_max``.

    :param adx_period: ADX period, bars.
    :param adx_trend: ADX at or above which the trend follower trades.
    :param adx_range: ADX at or below which the grid trades.
    :param vol_short: bars of the short realised volatility.
    :param vol_long: bars of the long realised volatility.
    :param vol_ratio_max: short/long volatility above which the strategy stays flat.
    :param trend: parameters of the trend follower.
    :param grid: parameters of the grid.
    """

    name: str = "hybrid"
    adx_period: int = 14
    adx_trend: float = 25.0
    adx_range: float = 20.0
    vol_short: int = 24
    vol_long: int = 240
    vol_ratio_max: float = 2.0
    trend: VolTrendConfig = field(default_factory=VolTrendConfig)
    grid: GridConfig = field(default_factory=GridConfig)

    def validate(self) -> HybridConfig:
        if self.adx_period < 2 or self.vol_short < 2 or self.vol_long < self.vol_short:
            raise ConfigError("agent.adx_period and vol_short must be >= 2, vol_long >= vol_short")
        if not 0.0 <= self.adx_range <= self.adx_trend <= 100.0:
            raise ConfigError("agent needs 0 <= adx_range <= adx_trend <= 100")
        if not self.vol_ratio_max > 0.0:
            raise ConfigError("agent.vol_ratio_max must be > 0")
        self.trend.validate()
        self.grid.validate()
        return self


@dataclass
class DemarkConfig:
    """DeMark exhaustion: fade a completed TD Sequential buy/sell setup, TD Sequential countdown 13 or TD
    Combo countdown 13 (rules in ``asterrl.features.kernels.demark``).

    A buy signal goes long, a sell signal short: a completed setup (on its bar 9, or, when
    ``require_perfection``, on the bar 9 or later bar that perfects it), a TD Sequential countdown 13, a TD
    Combo countdown 13. A position closes after ``hold_bars``, at the opposite signal, or when the close
    crosses a stop ``stop_atr`` ATRs from the signal bar's close.

    :param use_setup: trade completed setups (9).
    :param use_countdown: trade completed TD Sequential countdowns (13).
    :param use_combo: trade completed TD Combo countdowns (13).
    :param require_perfection: trade a setup only when (and where) it is perfected.
    :param hold_bars: bars a position is held at most.
    :param atr_period: ATR period of the stop, bars.
    :param stop_atr: stop distance in ATRs (0 disables it).
    :param fraction: position, fraction of the position scale.
    :param allow_short: trade sell signals short (else they only close longs).
    """

    name: str = "demark"
    use_setup: bool = True
    use_countdown: bool = True
    use_combo: bool = True
    require_perfection: bool = True
    hold_bars: int = 24
    atr_period: int = 14
    stop_atr: float = 2.0
    fraction: float = 1.0
    allow_short: bool = True

    def validate(self) -> DemarkConfig:
        if not (self.use_setup or self.use_countdown or self.use_combo):
            raise ConfigError("agent needs use_setup, use_countdown or use_combo")
        if self.hold_bars < 1 or self.atr_period < 1 or self.stop_atr < 0.0:
            raise ConfigError("agent.hold_bars and atr_period must be >= 1, stop_atr >= 0")
        _fraction("agent.fraction", self.fraction)
        return self


@dataclass
class SmaCrossConfig:
    """Moving-average crossover: long while the fast simple moving average of the close is above the slow
    one, short (or flat) while it is below.

    :param fast: bars of the fast average.
    :param slow: bars of the slow average (more than ``fast``).
    :param fraction: position, fraction of the position scale.
    :param allow_short: hold short while fast < slow (else flat).
    """

    name: str = "sma_cross"
    fast: int = 24
    slow: int = 96
    fraction: float = 1.0
    allow_short: bool = True

    def validate(self) -> SmaCrossConfig:
        if self.fast < 1 or self.slow <= self.fast:
            raise ConfigError("agent.fast must be >= 1 and agent.slow > agent.fast")
        _fraction("agent.fraction", self.fraction)
        return self


AgentConfig = (
    PPOConfig | BuyAndHoldConfig | GridConfig | VolTrendConfig | HybridConfig | DemarkConfig | SmaCrossConfig
)

#: Schema name in the ``agent`` group -> dataclass; ``conf/agent/<option>.yaml`` lists one in its defaults.
AGENT_SCHEMAS: dict[str, type[Any]] = {
    "ppo_schema": PPOConfig,
    "buy_and_hold_schema": BuyAndHoldConfig,
    "grid_schema": GridConfig,
    "vol_trend_schema": VolTrendConfig,
    "hybrid_schema": HybridConfig,
    "demark_schema": DemarkConfig,
    "sma_cross_schema": SmaCrossConfig,
}


def register() -> None:
    """Store the agent schemas in the ``agent`` group of Hydra's ConfigStore (idempotent)."""
    store = ConfigStore.instance()
    for name, node in AGENT_SCHEMAS.items():
        store.store(group="agent", name=name, node=node)


def validate_agent(cfg: Any) -> AgentConfig:
    """The agent config, validated; ``ConfigError`` when it is not one of the agent dataclasses."""
    if not isinstance(cfg, tuple(AGENT_SCHEMAS.values())):
        raise ConfigError(f"agent config of type {type(cfg).__name__} is not an agent (see conf/agent/)")
    validated: AgentConfig = cfg.validate()  # type: ignore[attr-defined]
    return validated


def _choice(key: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{key}={value!r}; expected one of {', '.join(allowed)}")


def _fraction(key: str, value: float) -> None:
    if not 0.0 < value <= 1.0:
        raise ConfigError(f"{key} must lie in (0, 1] (a fraction of the env's position scale)")
