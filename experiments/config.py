"""Compose, validate and save the Hydra configuration used by every ``asterrl`` subcommand."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_module
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

import conf
from asterrl.errors import ConfigError
from experiments import schema

CONFIG_MODULE = "conf"
CONFIG_NAME = "config"


def _register_resolvers() -> None:
    """``${asterrl.repo_root:}``: the folder that holds ``conf/`` (so presets can name paths beside it)."""
    if not OmegaConf.has_resolver("asterrl.repo_root"):
        root = str(Path(conf.__file__).resolve().parents[1])
        OmegaConf.register_new_resolver("asterrl.repo_root", lambda: root)


def compose_config(overrides: Sequence[str] = (), config_name: str = CONFIG_NAME) -> DictConfig:
    """The composed, type-checked and fully resolved configuration as a ``DictConfig``.

    :param overrides: Hydra overrides such as ``data.symbol=ETHUSDT`` or ``data=synthetic``.
    :raises ConfigError: one line naming the offending key and what was expected.
    """
    schema.register()
    _register_resolvers()
    try:
        with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
            cfg = compose(config_name=config_name, overrides=list(overrides))
        OmegaConf.resolve(cfg)
    except (HydraException, OmegaConfBaseException, ValueError) as exc:
        raise ConfigError(describe_config_error(exc)) from None
    return cfg


def load_config(
    overrides: Sequence[str] = (), config_name: str = CONFIG_NAME, resolve_instrument: bool = True
) -> schema.AsterRLConfig:
    """Typed configuration object (dataclasses and enums) for the given overrides, every section validated
    (``AsterRLConfig.validate``) before any work starts."""
    cfg = compose_config(overrides, config_name)
    try:
        obj = OmegaConf.to_object(cfg)
    except OmegaConfBaseException as exc:
        raise ConfigError(describe_config_error(exc)) from None
    assert isinstance(obj, schema.AsterRLConfig)
    return obj.validate(resolve_instrument)


def to_yaml(cfg: Any) -> str:
    """YAML text of a config object or ``DictConfig`` (for run directories)."""
    return OmegaConf.to_yaml(OmegaConf.structured(cfg) if not isinstance(cfg, DictConfig) else cfg)


def describe_config_error(exc: BaseException) -> str:
    """One line naming the key and the expected type or value, from Hydra's and OmegaConf's errors."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, OmegaConfBaseException) and cause.__cause__:
        cause = cause.__cause__
    if isinstance(cause, OmegaConfBaseException):
        full_key = getattr(cause, "full_key", None)
        message = str(getattr(cause, "msg", None) or cause).splitlines()[0]
        missing = re.match(r"Key '([^']+)' not in '([^']+)'", message)
        if missing:
            where = full_key or missing.group(1)
            return f"config key '{where}' is not a field of {missing.group(2)}"
        bad = re.match(r"Value '(.*?)' (?:of type '(\w+)' )?could not be converted to (\w+)", message)
        if bad:
            return f"config key '{full_key}': expected {bad.group(3).lower()}, got {bad.group(1)!r}"
        invalid_enum = re.match(r"Invalid value '(.*)', expected one of \[(.*)\]", message)
        if invalid_enum:
            names = invalid_enum.group(2).lower().replace("'", "").split(", ")
            options = ", ".join(dict.fromkeys(names))
            return (
                f"config key '{full_key}': invalid value {invalid_enum.group(1)!r}, expected one of {options}"
            )
        return f"config key '{full_key}': {message}" if full_key else f"config error: {message}"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    not_in_struct = re.search(r"Could not override '([^']+)'", text)
    if not_in_struct:
        key = not_in_struct.group(1)
        return f"config key '{key}' does not exist (use a known key, or +key=value to add one)"
    no_option = re.search(r"Could not find '([^'/]+)/([^']+)'", text)
    if no_option:
        return f"config group '{no_option.group(1)}' has no option '{no_option.group(2)}'"
    return f"config error: {text}"
