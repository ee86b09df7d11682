"""What every ``asterrl`` subcommand shares: Hydra's command-line conventions and the sweep machinery.

Each subcommand builds its ``argparse`` parser with ``command_parser`` (its own options plus Hydra's:
``-m/--multirun``, ``--cfg job|hydra|all``, ``--resolve``, ``--package``, ``--info``) and hands its job to
``run_command``, which

- prints the help (usage, options, how overrides work and every config group with its options),
- prints the composed config (``--cfg``) or Hydra's information (``--info``) and exits, as Hydra does,
- runs the job once on the composed config, or, with ``-m``, once per combination of the swept overrides
  through Hydra's sweeper and launcher; the basic sweeper's results are printed as the same table the Ray
  Tune sweeper prints, and written to ``<hydra.sweep.dir>/results.csv``.

Every configuration of a sweep is composed and validated before anything is created.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from asterrl.errors import AsterRLError, ConfigError
from experiments.cli import split_overrides
from experiments.config import (
    CONFIG_MODULE,
    CONFIG_NAME,
    compose_config,
    config_groups,
    describe_config_error,
    register_resolvers,
    to_typed,
)
from experiments.schema import AsterRLConfig
from experiments.suggest import nearest
from hydra_plugins.asterrl_ray_tune.results import Cell, publish, sweep_row

#: A job's summary: one row of a sweep's results table (``None``: nothing to report).
Summary = Mapping[str, Cell] | None
Job = Callable[[AsterRLConfig], Summary]

INFO_MODES = ("all", "config", "defaults", "defaults-tree", "plugins", "searchpath")

OVERRIDES_HELP = """\
overrides (any number, after or between the options):
  key=value      set a key: data.symbol=ETHUSDT, agent.lr=1e-4, risk.max_leverage=3
  group=option   pick a config group's option: agent=sb3_ppo, data=synthetic, experiment=smoke
  +key=value     add a key the config lacks, e.g. +env.splits.train=[2022-01-01,2022-06-30]
  ++key=value    add the key, or override it when present
  ~key           delete a key, e.g. ~env.splits.train
  with -m, a comma list sweeps a key: agent.lr=1e-4,3e-4 seed=0,1 (one run per combination);
  hydra/sweeper=ray_tune runs the combinations as Ray Tune trials"""


class CommandParser(argparse.ArgumentParser):
    """argparse that raises ``ConfigError`` (one line, with the nearest option for a typo) instead of
    exiting, and whose usage line ends with the overrides."""

    def error(self, message: str) -> None:  # type: ignore[override]
        unknown = message.split("unrecognized arguments: ", 1)
        if len(unknown) == 2:
            word = unknown[1].split()[0]
            known = [option for option in _option_strings(self) if option != word]
            match = nearest(word, known)
            hint = f"; did you mean {match}?" if match else ""
            raise ConfigError(f"unknown option {word}{hint} (see {self.prog} --help)")
        raise ConfigError(f"{message} (see {self.prog} --help)")

    def format_usage(self) -> str:
        return super().format_usage().rstrip() + " [key=value ...]\n"

    def format_help(self) -> str:
        text = super().format_help()
        usage = super().format_usage().rstrip()
        return text.replace(usage, usage + " [key=value ...]", 1)


def _option_strings(parser: argparse.ArgumentParser) -> list[str]:
    """Every option of ``parser`` and of its subcommands (argparse reports a subcommand's unknown option
    from the top parser)."""
    known: list[str] = []
    for action in parser._actions:
        known += action.option_strings
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                known += _option_strings(child)
    return known


def plain_text(doc: str) -> str:
    """A docstring as help text: reStructuredText literals (double backticks) and ``::`` markers removed."""
    text = re.sub(r"``([^`]*)``", r"\1", doc)
    text = re.sub(r"`([^`]*)`", r"\1", text)
    return text.replace("::\n", ":\n").strip()


def command_parser(prog: str, description: str, groups: bool = True) -> CommandParser:
    """A subcommand's parser with Hydra's options and, in its help, overrides and config groups.

    :param description: plain text (shown as written).
    :param groups: list the config groups and their options in the help.
    """
    parser = CommandParser(
        prog=prog,
        allow_abbrev=False,
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_epilog() if groups else None,
    )
    add_hydra_options(parser)
    return parser


def add_hydra_options(parser: argparse.ArgumentParser) -> None:
    """Hydra's flags: ``-m``, ``--cfg``, ``--resolve``, ``--package``, ``--info``."""
    hydra = parser.add_argument_group("Hydra options")
    hydra.add_argument(
        "-m", "--multirun", action="store_true", help="run once per combination of the swept overrides"
    )
    hydra.add_argument(
        "-c",
        "--cfg",
        choices=("job", "hydra", "all"),
        help="print the composed config (job: the application's, hydra: Hydra's, all: both) and exit",
    )
    hydra.add_argument("--resolve", action="store_true", help="with --cfg: resolve interpolations first")
    hydra.add_argument("-p", "--package", help="with --cfg: print only this package (e.g. agent)")
    hydra.add_argument(
        "--info",
        nargs="?",
        const="all",
        choices=INFO_MODES,
        help="print Hydra's information (config search path, defaults tree, plugins) and exit",
    )


def _epilog() -> str:
    lines = [OVERRIDES_HELP, "", "config groups (group=option, the default first where one is set):"]
    try:
        groups = config_groups()
        defaults = _default_options()
    except AsterRLError:  # a broken config tree: the help still prints
        groups, defaults = {}, {}
    for group, options in groups.items():
        chosen = defaults.get(group)
        ordered = ([chosen] if chosen in options else []) + [o for o in options if o != chosen]
        lines.append(f"  {group + ':':<16}{', '.join(ordered)}")
    return "\n".join(lines)


def _default_options() -> dict[str, str]:
    """The option each group's default picks (from ``conf/config.yaml``)."""
    from hydra.core.hydra_config import HydraConfig

    register_resolvers()
    with _argv(["asterrl"]):
        from hydra import compose, initialize_config_module

        with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
            cfg = compose(config_name=CONFIG_NAME, return_hydra_config=True)
            HydraConfig.instance().set_config(cfg)
            choices = OmegaConf.to_container(cfg.hydra.runtime.choices)
    assert isinstance(choices, dict)
    return {str(k): str(v) for k, v in choices.items() if v is not None}


@dataclass
class CommandRun:
    """How one invocation runs: the parsed options and the overrides."""

    args: argparse.Namespace
    overrides: list[str] = field(default_factory=list)


def parse(parser: argparse.ArgumentParser, argv: Sequence[str]) -> CommandRun:
    """Split ``argv`` into options (parsed) and overrides; ``-h`` prints the help and exits 0."""
    options, overrides = split_overrides(argv)
    return CommandRun(parser.parse_args(options), overrides)


def run_command(
    run: CommandRun,
    job: Job,
    show_config: Callable[[], DictConfig] | None = None,
    after: Callable[[Summary], None] | None = None,
    around: Callable[[list[AsterRLConfig]], contextlib.AbstractContextManager[object]] | None = None,
    resolve_instrument: bool = True,
) -> int:
    """Run ``job`` as the options say: print the config, print Hydra's info, sweep, or run once.

    :param show_config: the config ``--cfg job`` prints when it is not the composed one (``evaluate``
        prints its checkpoint's).
    :param after: called with the summary of a single run (not in a sweep), e.g. to print it.
    :param around: see ``multirun``.
    :param resolve_instrument: see ``AsterRLConfig.validate`` (``asterrl data`` does without).
    """
    args, overrides = run.args, run.overrides
    if getattr(args, "cfg", None) or getattr(args, "info", None):
        return show(args, overrides, show_config)
    if getattr(args, "multirun", False):
        return multirun(overrides, job, around, resolve_instrument)
    summary = job(load_typed(overrides, resolve_instrument))
    if after is not None:
        after(summary)
    return 0


def load_typed(overrides: Sequence[str], resolve_instrument: bool = True) -> AsterRLConfig:
    """The validated configuration of ``overrides``."""
    return to_typed(compose_config(overrides), resolve_instrument)


def show(
    args: argparse.Namespace, overrides: Sequence[str], show_config: Callable[[], DictConfig] | None = None
) -> int:
    """``--cfg`` and ``--info``: Hydra prints them, as for any Hydra application (``evaluate`` prints its
    checkpoint's config itself). With ``-m`` every job's overrides are checked and the first job's config
    is printed."""
    if show_config is None:  # a bad override ends as one line, before Hydra prints
        mine = [o for o in overrides if not o.lstrip("+~").startswith(("hydra.", "hydra/"))]
        jobs = sweep_axes(mine)[1] if getattr(args, "multirun", False) else [mine]
        for job_overrides in jobs:
            compose_config(job_overrides, resolve=False)
        if getattr(args, "multirun", False):  # Hydra prints one config: the sweep's first job's
            overrides = [*jobs[0], *(o for o in overrides if o not in mine)]
    if args.cfg == "job" and show_config is not None:
        cfg = show_config()
        if args.resolve:
            OmegaConf.resolve(cfg)
        node = OmegaConf.select(cfg, args.package) if args.package else cfg
        print(OmegaConf.to_yaml(node) if isinstance(node, DictConfig) else node, end="")
        return 0
    flags: list[str] = []
    if args.cfg:
        flags += ["--cfg", args.cfg] + (["--resolve"] if args.resolve else [])
        flags += ["--package", args.package] if args.package else []
    if args.info:
        flags += ["--info", args.info]
    _hydra_main(lambda cfg: None, flags, overrides)
    return 0


def _hydra_main(task: Callable[[DictConfig], object], flags: list[str], overrides: Sequence[str]) -> None:
    """Run ``task`` through ``hydra.main`` with Hydra's ``flags`` and the overrides (logging left quiet)."""
    import hydra

    register_resolvers()
    quiet = [
        f"hydra/{k}=disabled"
        for k in ("job_logging", "hydra_logging")
        if not any(o.startswith(f"hydra/{k}") for o in overrides)
    ]
    main = hydra.main(version_base="1.3", config_path=f"pkg://{CONFIG_MODULE}", config_name=CONFIG_NAME)(task)
    with _argv(["asterrl", *flags, *quiet, *overrides]), _logging_restored():
        try:
            main()
        except SystemExit as exc:  # Hydra exits on errors it has printed, or on failed sweep jobs
            if exc.code:
                raise ConfigError("Hydra stopped (see the message above)") from None


@contextlib.contextmanager
def _logging_restored() -> Iterator[None]:
    """Put every logger back as it was: Hydra reconfigures logging for its run, and handlers it leaves
    behind would write to streams that are gone (or print debug lines) after it returns."""
    loggers = [logging.getLogger(), *(
        logger for logger in logging.Logger.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    )]  # fmt: skip
    saved = [(lg, lg.level, list(lg.handlers), lg.disabled, lg.propagate) for lg in loggers]
    _reset_hydra_loggers()  # a previous Hydra run may have disabled them (its --info prints through them)
    try:
        yield
    finally:
        for logger, level, handlers, disabled, propagate in saved:
            logger.setLevel(level)
            logger.handlers[:] = handlers
            logger.disabled, logger.propagate = disabled, propagate
        _reset_hydra_loggers()


def _reset_hydra_loggers() -> None:
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and name.startswith("hydra"):
            logger.handlers.clear()
            logger.setLevel(logging.NOTSET)
            logger.disabled, logger.propagate = False, True


@contextlib.contextmanager
def _argv(argv: list[str]) -> Iterator[None]:
    saved = sys.argv
    sys.argv = argv
    try:
        yield
    finally:
        sys.argv = saved


def sweep_axes(overrides: Sequence[str]) -> tuple[dict[str, tuple[str, ...]], list[list[str]]]:
    """The swept keys with their values, and the overrides of every job, in Hydra's job order.

    :raises ConfigError: an override Hydra cannot parse.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    from hydra_plugins.asterrl_ray_tune.grid import SweepError, sweep_grid

    try:
        grid = sweep_grid(OverridesParser.create().parse_overrides(list(overrides)))
    except (HydraException, SweepError) as exc:
        raise ConfigError(describe_config_error(exc, overrides)) from None
    return dict(grid.axes), [grid.overrides(point) for point in grid.points()]


def multirun(
    overrides: list[str],
    job: Job,
    around: Callable[[list[AsterRLConfig]], contextlib.AbstractContextManager[object]] | None = None,
    resolve_instrument: bool = True,
) -> int:
    """Hydra's multirun of ``job`` over ``overrides``; every job's config is composed and validated first.

    With the basic sweeper the jobs run here, one after the other, and the results table is printed and
    written to ``<hydra.sweep.dir>/results.csv``; ``hydra/sweeper=ray_tune`` prints and writes the same
    table itself.

    :param around: a context the jobs of the basic sweeper run in, given every job's config (``train``
        keeps one local Ray for all its RLlib jobs).
    """
    from hydra.core.hydra_config import HydraConfig

    axes, jobs = sweep_axes([o for o in overrides if not o.startswith(("hydra.", "hydra/"))])
    configs = [load_typed(job_overrides, resolve_instrument) for job_overrides in jobs]
    basic = not any(o.startswith("hydra/sweeper=") and not o.endswith("=basic") for o in overrides)
    rows: list[dict[str, Cell]] = []
    sweep_dirs: list[Path] = []
    errors: list[AsterRLError] = []

    def task(cfg: DictConfig) -> dict[str, Cell]:
        hydra_cfg = HydraConfig.get()
        given = dict(o.split("=", 1) for o in hydra_cfg.overrides.task if "=" in o)
        point = {key: given.get(key, "") for key in axes}
        sweep_dirs.append(Path(str(hydra_cfg.sweep.dir)))
        try:
            outcome: Summary = job(to_typed(cfg, resolve_instrument))
            row = sweep_row(int(hydra_cfg.job.num), point, {"status": "ok", **(outcome or {})})
        except AsterRLError as exc:
            errors.append(exc)
            print(f"asterrl: job {hydra_cfg.job.num} failed: {exc}", file=sys.stderr)
            row = sweep_row(int(hydra_cfg.job.num), point, {"status": "failed", "error": str(exc)})
        rows.append(row)
        return row

    with around(configs) if around is not None and basic else contextlib.nullcontext():
        _hydra_main(task, ["--multirun"], overrides)
    if rows:  # the basic sweeper ran the jobs in this process
        publish(rows, sweep_dirs[0])
    if errors:
        raise errors[0]
    return 0
