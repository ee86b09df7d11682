"""Compose, validate and save the Hydra configuration used by every ``asterrl`` subcommand.

``compose_config`` gives the composed ``DictConfig`` (Hydra's defaults list plus the overrides, checked
against the structured schema of ``experiments.schema``); ``load_config`` turns it into the typed
``AsterRLConfig`` and validates every section. Errors are one line that names the key and, for a typo, the
nearest valid key or option.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from hydra import compose, initialize_config_module
from hydra.errors import HydraException
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

import conf
from asterrl.errors import AsterRLError, ConfigError
from experiments import schema
from experiments.suggest import did_you_mean, did_you_mean_key
from experiments.training.config import experiment_folder

CONFIG_MODULE = "conf"
CONFIG_NAME = "config"
#: Config groups that are the schema's plumbing, not options a user picks.
_INTERNAL_OPTION = re.compile(r"_schema$")


def repository_root() -> Path:
    """The folder that holds ``conf/`` (the repository checkout, or the installed packages' folder)."""
    return Path(conf.__file__).resolve().parents[1]


def asterrl_home() -> Path:
    """``$ASTERRL_HOME``, or ``~/.asterrl``, with ``~`` expanded (never a literal ``~`` folder)."""
    return Path(os.environ.get("ASTERRL_HOME") or "~/.asterrl").expanduser()


def output_outside_repository(given: Path | None, default: Path, option: str) -> Path:
    """Where a command writes a file: ``given`` or ``default``, never inside the repository folder.

    :raises ConfigError: ``given`` lies in the folder that holds ``conf/`` (a checkout, or the installed
        packages).
    """
    target = (given if given is not None else default).expanduser()
    root = repository_root()
    resolved = target.resolve()
    if resolved == root or root in resolved.parents:
        raise ConfigError(
            f"{option} {given} would write into the repository folder {root}; give a path outside it "
            f"(default: {default})"
        )
    return target


def register_resolvers() -> None:
    """Register the ``asterrl.*`` resolvers and the schema (idempotent; every path that composes calls it).

    ``${asterrl.repo_root:}`` is the folder holding ``conf/`` (presets name paths beside it);
    ``${asterrl.home:}`` is ``$ASTERRL_HOME`` or ``~/.asterrl``, expanded;
    ``${asterrl.experiment_dir:root,name,source}`` is the experiment's folder (``experiment_folder``).
    """
    schema.register()
    resolvers: dict[str, Callable[..., str]] = {
        "asterrl.repo_root": lambda: str(repository_root()),
        "asterrl.home": lambda: str(asterrl_home()),
        "asterrl.experiment_dir": lambda root, name, source: str(experiment_folder(root, name, source)),
    }
    for name, resolver in resolvers.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, resolver)


def compose_config(
    overrides: Sequence[str] = (), config_name: str = CONFIG_NAME, resolve: bool = True
) -> DictConfig:
    """The composed and type-checked configuration as a ``DictConfig`` (without the ``hydra`` section).

    :param overrides: Hydra overrides such as ``data.symbol=ETHUSDT``, ``data=synthetic``, ``+key=value``
        or ``~key``.
    :param resolve: resolve every interpolation (``${...}``) in place.
    :raises ConfigError: one line naming the offending key and what was expected.
    """
    register_resolvers()
    try:
        with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
            cfg = compose(config_name=config_name, overrides=list(overrides))
        if resolve:
            OmegaConf.resolve(cfg)
    except (HydraException, OmegaConfBaseException, ValueError) as exc:
        raise ConfigError(describe_config_error(exc, overrides)) from None
    return cfg


def to_typed(cfg: DictConfig, resolve_instrument: bool = True) -> schema.AsterRLConfig:
    """The typed, validated configuration of a composed ``DictConfig`` (the ``hydra`` section dropped).

    :param resolve_instrument: see ``AsterRLConfig.validate`` (``asterrl data`` does without).
    """
    if "hydra" in cfg:
        cfg = copy.deepcopy(cfg)
        with open_dict(cfg):
            del cfg["hydra"]
    _refuse_added_keys(cfg, "")
    try:
        obj = OmegaConf.to_object(cfg)
    except OmegaConfBaseException as exc:
        raise ConfigError(describe_config_error(exc)) from None
    if not isinstance(obj, schema.AsterRLConfig):
        raise ConfigError("the configuration is not an asterrl configuration (conf/config.yaml)")
    return obj.validate(resolve_instrument)


def _refuse_added_keys(node: DictConfig, prefix: str) -> None:
    """``+key=value`` adds a key even where the schema has no such field; only a free-form mapping (such as
    ``env.splits``) may take one."""
    kind = OmegaConf.get_type(node)
    if kind is not None and dataclasses.is_dataclass(kind):
        fields = {f.name for f in dataclasses.fields(kind)}
        for key in node:
            if str(key) not in fields:
                full = f"{prefix}{key!s}"
                hint = did_you_mean(str(key), sorted(fields))
                raise ConfigError(f"config key '{full}' is not a field of {kind.__name__}{hint}")
    for key in node:
        child = node._get_node(key)
        if isinstance(child, DictConfig) and not child._is_none() and not child._is_missing():
            _refuse_added_keys(child, f"{prefix}{key!s}.")


def load_config(
    overrides: Sequence[str] = (), config_name: str = CONFIG_NAME, resolve_instrument: bool = True
) -> schema.AsterRLConfig:
    """Typed configuration object (dataclasses and enums) for the given overrides, every section validated
    (``AsterRLConfig.validate``) before any work starts."""
    return to_typed(compose_config(overrides, config_name), resolve_instrument)


def to_yaml(cfg: schema.AsterRLConfig | DictConfig) -> str:
    """YAML text of a config object or ``DictConfig`` (for run directories)."""
    return OmegaConf.to_yaml(cfg if isinstance(cfg, DictConfig) else OmegaConf.structured(cfg))


def group_options(group: str) -> list[str]:
    """The options of a config group (``agent`` -> ``ppo``, ``sb3_ppo``, ...), schema plumbing left out."""
    from hydra.core.global_hydra import GlobalHydra

    register_resolvers()
    with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        options = loader.get_group_options(group)
    return [o for o in options if not _INTERNAL_OPTION.search(o)]


def config_groups() -> dict[str, list[str]]:
    """Every config group a user picks an option of (``hydra/*`` limited to sweeper and launcher)."""
    from hydra.core.global_hydra import GlobalHydra

    register_resolvers()
    with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()

        def walk(parent: str) -> Iterator[str]:
            for name in sorted(loader.list_groups(parent)):
                full = f"{parent}/{name}" if parent else name
                yield full
                yield from walk(full)

        groups = {
            group: [o for o in loader.get_group_options(group) if not _INTERNAL_OPTION.search(o)]
            for group in walk("")
            if not group.startswith("hydra") or group in ("hydra/sweeper", "hydra/launcher")
        }
    return {group: options for group, options in groups.items() if options}


def config_keys(overrides: Sequence[str] = ()) -> list[str]:
    """Every dotted key of the composed configuration (for suggestions); empty when it does not compose."""
    group_choices = [o for o in overrides if "=" in o and "." not in o.split("=", 1)[0].lstrip("+~")]
    try:
        cfg = compose_config(group_choices, resolve=False)
    except AsterRLError:
        return []
    return list(_dotted_keys(cfg, ""))


def _dotted_keys(node: DictConfig | ListConfig, prefix: str) -> Iterator[str]:
    if not isinstance(node, DictConfig):
        return
    for key in node:
        full = f"{prefix}{key!s}"
        yield full
        child = node._get_node(key)
        if isinstance(child, DictConfig):
            yield from _dotted_keys(child, full + ".")


def describe_config_error(exc: BaseException, overrides: Sequence[str] = ()) -> str:
    """One line naming the key and the expected type or value, from Hydra's and OmegaConf's errors."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, OmegaConfBaseException) and cause.__cause__:
        cause = cause.__cause__
    if isinstance(cause, OmegaConfBaseException):
        return _describe_omegaconf(cause, overrides)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    not_in_struct = re.search(
        r"Could not (?:override|append to config|delete from config)[^']*'([^']+)'", text
    )
    if not_in_struct:
        key = not_in_struct.group(1)
        hint = did_you_mean_key(key, config_keys(overrides))
        return f"config key '{key}' does not exist{hint or ' (see asterrl <command> --cfg job)'}"
    no_option = re.search(r"Could not find '([^']+)/([^'/]+)'", text)
    if no_option:
        group, option = no_option.group(1), no_option.group(2)
        try:
            options = group_options(group)
        except Exception:  # the group itself may be unknown; no suggestion then
            options = []
        listing = f" (options: {', '.join(options)})" if options else ""
        return f"config group '{group}' has no option '{option}'{did_you_mean(option, options)}{listing}"
    return f"config error: {text}"


def _describe_omegaconf(cause: OmegaConfBaseException, overrides: Sequence[str]) -> str:
    full_key = getattr(cause, "full_key", None)
    message = str(getattr(cause, "msg", None) or cause).splitlines()[0]
    missing = re.match(r"Key '([^']+)' not in '([^']+)'", message)
    if missing:
        where = full_key or missing.group(1)
        keys = config_keys(overrides)
        return f"config key '{where}' is not a field of {missing.group(2)}{did_you_mean_key(where, keys)}"
    bad = re.match(r"Value '(.*?)' (?:of type '(\w+)' )?could not be converted to (\w+)", message)
    if bad:
        return f"config key '{full_key}': expected {bad.group(3).lower()}, got {bad.group(1)!r}"
    invalid_enum = re.match(r"Invalid value '(.*)', expected one of \[(.*)\]", message)
    if invalid_enum:
        names = list(dict.fromkeys(invalid_enum.group(2).lower().replace("'", "").split(", ")))
        value = invalid_enum.group(1)
        return (
            f"config key '{full_key}': invalid value {value!r}{did_you_mean(value.lower(), names)} "
            f"(expected one of {', '.join(names)})"
        )
    interpolation = re.search(r"Unsupported interpolation type (\S+)", message)
    if interpolation:
        return f"config key '{full_key}': unknown resolver {interpolation.group(1)} in an interpolation"
    return f"config key '{full_key}': {message}" if full_key else f"config error: {message}"
