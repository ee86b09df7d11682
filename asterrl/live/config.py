"""``DeployConfig``: every setting of a deployment, typed and checked when it is built.

``asterrl deploy`` builds it from ``key=value`` arguments (and optionally a YAML file, ``config=FILE``)
without Hydra, which stays off the trading path: ``mode=paper``, ``execution.style=market``,
``risk.max_leverage=2``, ``limits.max_slippage_bps=30``. An unknown key or a value of the wrong type is one
line naming the key. Paper and live differ only in the base URL and the keys; live mode also needs
``confirm_live=true`` on the command line.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asterrl.errors import ConfigError
from asterrl.live.execution import ExecutionConfig

MODES = ("paper", "live")
APIS = ("v3", "v1")
OPEN_ORDER_RULES = ("adopt", "cancel", "halt")
POSITION_RULES = ("adopt", "flatten", "halt")
BREACH_STATES = ("reducing", "halted")
#: Aster's hosts (reference §2).
MAINNET_URL = "https://fapi.asterdex.com"
TESTNET_URL = "https://fapi.asterdex-testnet.com"
MAINNET_WS = "wss://fstream.asterdex.com"
TESTNET_WS = "wss://fstream.asterdex-testnet.com"


@dataclass
class ReconcileConfig:
    """What to do, before the first decision, with what the exchange holds that the state store does not know.

    :param open_orders: ``adopt`` (track them), ``cancel`` them, or ``halt`` (start HALTED, touch nothing).
    :param position: a position the store does not know: ``adopt`` it, ``flatten`` it (reduce-only), or
        ``halt``.
    """

    open_orders: str = "cancel"
    position: str = "adopt"


@dataclass
class LiveLimits:
    """Hard limits of the bridge beyond ``RiskLimits`` (enforced by the shared gate), and what breaches do.

    :param max_slippage_bps: largest distance of a fill from the order's reference (mark) price, bps.
    :param stale_bar_s: seconds past a bar's due close without that closed bar before data counts as stale.
    :param stale_stream_s: seconds without any stream message before the stream counts as stale.
    :param breach: state each breach kind moves the bot to, ``reducing`` or ``halted``; kinds: leverage,
        position_notional, daily_loss, drawdown, order_rate, stale_data, stale_stream, price_band,
        slippage, reconcile, kill_switch.
    :param flatten_on_halt: flatten the position with reduce-only orders when HALTED.
    """

    max_slippage_bps: float = 50.0
    stale_bar_s: float = 120.0
    stale_stream_s: float = 90.0
    breach: dict[str, str] = field(
        default_factory=lambda: {
            "leverage": "reducing", "position_notional": "reducing", "daily_loss": "halted",
            "drawdown": "halted", "order_rate": "reducing", "stale_data": "reducing",
            "stale_stream": "reducing", "price_band": "reducing", "slippage": "halted",
            "reconcile": "halted", "kill_switch": "halted",
        }
    )  # fmt: skip
    flatten_on_halt: bool = True


@dataclass
class DeployConfig:
    """A deployment (``asterrl deploy``).

    :param artifact: the frozen policy directory (``asterrl export``).
    :param mode: ``paper`` (the local exchange or Aster's testnet) or ``live`` (Aster mainnet).
    :param confirm_live: must be ``true`` for live mode: real money is traded.
    :param base_url: REST base; default: testnet for paper, mainnet for live.
    :param ws_url: WebSocket base; default: the host matching ``base_url``.
    :param api: ``v3`` (EIP-712 API wallet) or ``v1`` (HMAC key).
    :param key_file: JSON key file with mode 0600; empty: the ``ASTER_*`` environment variables.
    :param symbol: the symbol to trade; empty: the artifact's (another than the artifact's is refused).
    :param run_id: name of this deployment (client order ids, state file); empty: ``<artifact>-<mode>``.
    :param state_dir: where the state store, kill file and status live.
    :param history_bars: bars of history kept for the features (more than the artifact's warm-up).
    :param poll_s: REST polling interval when the kline stream is down, seconds.
    :param streams: follow the kline, mark-price and user-data WebSocket streams (REST stays the truth:
        a closed kline wakes the bridge, an order event makes it read that order at once).
    :param clock: ``local`` (the machine's clock, offset to the exchange's) or ``exchange`` (read the
        exchange's ``/time`` every tick: paper replays running faster than real time).
    :param nonce_window_ms: how far the exchange accepts a request's nonce (V3) or timestamp (V1) from its
        clock, ms: an unanswered order older than this can no longer be accepted (Aster: 10 000).
    :param slow_call_ms: an exchange call slower than this is logged as a fault, ms.
    :param exchange_leverage: the account's leverage setting on the exchange (initial margin = notional /
        setting); the position's leverage stays within ``risk.max_leverage`` through the gate whatever it
        is. 0: twice that limit (room for fees and a limit order's band), within the instrument's maximum.
    :param max_bars: stop after this many decisions (0: run until stopped).
    :param metrics_port: Prometheus text on 127.0.0.1:PORT (0: off).
    :param kill_file: a file whose existence halts the bot; empty: ``<state_dir>/<run_id>.kill``.
    :param log_file: JSON log lines go here too (always to stderr).
    :param risk: overrides of the artifact's ``RiskLimits`` (e.g. ``risk.max_leverage=2``).
    """

    artifact: str = ""
    mode: str = "paper"
    confirm_live: bool = False
    base_url: str = ""
    ws_url: str = ""
    api: str = "v3"
    key_file: str = ""
    symbol: str = ""
    run_id: str = ""
    state_dir: str = "~/.asterrl/deploy"
    history_bars: int = 1000
    poll_s: float = 1.0
    streams: bool = True
    clock: str = "local"
    nonce_window_ms: int = 10_000
    slow_call_ms: float = 1_000.0
    exchange_leverage: int = 0
    max_bars: int = 0
    metrics_port: int = 0
    kill_file: str = ""
    log_file: str = ""
    risk: dict[str, float] = field(default_factory=dict)
    reconcile: ReconcileConfig = field(default_factory=ReconcileConfig)
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)
    limits: LiveLimits = field(default_factory=LiveLimits)

    def validate(self) -> DeployConfig:
        """One ``ConfigError`` line naming the ``deploy`` key of a bad value; returns self."""
        if not self.artifact:
            raise ConfigError("asterrl deploy needs artifact=DIR (a frozen policy from asterrl export)")
        _one_of("mode", self.mode, MODES)
        _one_of("api", self.api, APIS)
        _one_of("clock", self.clock, ("local", "exchange"))
        _one_of("reconcile.open_orders", self.reconcile.open_orders, OPEN_ORDER_RULES)
        _one_of("reconcile.position", self.reconcile.position, POSITION_RULES)
        for kind, state in self.limits.breach.items():
            _one_of(f"limits.breach.{kind}", state, BREACH_STATES)
        if self.history_bars < 3 or self.max_bars < 0 or not 0 <= self.metrics_port < 65536:
            raise ConfigError("deploy: history_bars must be >= 3, max_bars >= 0, metrics_port in [0, 65535]")
        for name in ("poll_s", "nonce_window_ms", "slow_call_ms"):
            _positive(name, getattr(self, name))
        for name in ("max_slippage_bps", "stale_bar_s", "stale_stream_s"):
            _positive(f"limits.{name}", getattr(self.limits, name))
        for url in (self.base_url, self.ws_url):
            if url and not url.startswith(("http://", "https://", "ws://", "wss://")):
                raise ConfigError(f"deploy: {url!r} is not an http(s):// or ws(s):// URL")
        self.execution.validate()
        return self

    @property
    def rest_url(self) -> str:
        return self.base_url or (MAINNET_URL if self.mode == "live" else TESTNET_URL)

    @property
    def stream_url(self) -> str:
        if self.ws_url:
            return self.ws_url
        if self.base_url:
            return self.base_url.replace("https://", "wss://").replace("http://", "ws://")
        return MAINNET_WS if self.mode == "live" else TESTNET_WS

    @property
    def chain_id(self) -> int:
        """EIP-712 chain id of V3 signatures: 714 on Aster's testnet host, 1666 elsewhere (mainnet, and the
        local exchange, which checks mainnet's by default)."""
        return 714 if "asterdex-testnet" in self.rest_url else 1666

    def name(self) -> str:
        """The run id, or ``<artifact folder>-<mode>``."""
        return self.run_id or f"{Path(self.artifact).expanduser().resolve().name}-{self.mode}"

    def state_path(self) -> Path:
        return Path(self.state_dir).expanduser() / f"{self.name()}.sqlite"

    def kill_path(self) -> Path:
        return Path(self.kill_file).expanduser() if self.kill_file else self.state_path().with_suffix(".kill")


def _one_of(key: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"deploy.{key}={value!r}; expected one of {', '.join(allowed)}")


def _positive(key: str, value: float) -> None:
    if not (value > 0.0 and math.isfinite(value)):
        raise ConfigError(f"deploy.{key}={value!r} must be a finite number > 0")


def _coerce(key: str, text: Any, kind: Any) -> Any:
    """``text`` (a command-line string or a YAML value) as the field type ``kind``."""
    origin = typing.get_origin(kind)
    if origin in (types.UnionType, typing.Union):
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    if kind is bool:
        if isinstance(text, bool):
            return text
        if str(text).lower() in ("true", "1", "yes"):
            return True
        if str(text).lower() in ("false", "0", "no"):
            return False
    elif kind in (int, float):
        try:
            value = kind(str(text).replace(".inf", "inf"))
            if kind is int and isinstance(text, float) and not float(text).is_integer():
                raise ValueError
            return value
        except ValueError:
            pass
    elif kind is str:
        return "" if text is None else str(text)
    raise ConfigError(f"config key 'deploy.{key}': expected {getattr(kind, '__name__', kind)}, got {text!r}")


def apply_override(cfg: Any, dotted: str, value: Any, prefix: str = "") -> None:
    """Set ``cfg.<dotted>`` (nested dataclasses; a dict field takes any sub-key) from a string or value."""
    head, _, rest = dotted.partition(".")
    where = f"{prefix}{head}"
    hints = typing.get_type_hints(type(cfg))
    names = {f.name for f in dataclasses.fields(cfg)}
    if head not in names:
        raise ConfigError(f"config key 'deploy.{where}' is not a field of {type(cfg).__name__}")
    current = getattr(cfg, head)
    if dataclasses.is_dataclass(current):
        if not rest:
            raise ConfigError(f"config key 'deploy.{where}' is a section: set one of its fields")
        apply_override(current, rest, value, f"{where}.")
        return
    kind = hints[head]
    if typing.get_origin(kind) is dict:
        if not rest:
            raise ConfigError(f"config key 'deploy.{where}' is a mapping: set deploy.{where}.<name>=value")
        value_kind = typing.get_args(kind)[1]
        current[rest] = _coerce(f"{where}.{rest}", value, value_kind)
        return
    if rest:
        raise ConfigError(f"config key 'deploy.{where}' has no field {rest!r}")
    setattr(cfg, head, _coerce(where, value, kind))


def _flatten(raw: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(raw, dict):
        return [item for k, v in raw.items() for item in _flatten(v, f"{prefix}{k}.")]
    return [(prefix[:-1], raw)]


def load_deploy_config(overrides: list[str], file: str | None = None) -> DeployConfig:
    """A validated ``DeployConfig`` from a YAML file (optional) and ``key=value`` overrides on top."""
    cfg = DeployConfig()
    pairs: list[tuple[str, Any]] = []
    if file:
        import yaml

        try:
            raw = yaml.safe_load(Path(file).expanduser().read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"deploy config {file}: cannot read ({type(exc).__name__})") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"deploy config {file}: expected a mapping of settings")
        pairs += _flatten(raw.get("deploy", raw))
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"expected key=value, got {item!r}")
        pairs.append((key.removeprefix("deploy."), value))
    for key, value in pairs:
        apply_override(cfg, key, value)
    return cfg.validate()
