"""The ``asterrl`` console script: one command, subcommands that take Hydra overrides.

``asterrl <command> [options] [key=value ...]``. Each subcommand lives in ``experiments.commands.<name>``
and exposes ``run(argv) -> int``. Errors the user can act on (``AsterRLError``) end with one line on stderr
and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Sequence

from asterrl import __version__
from asterrl.errors import AsterRLError

#: Subcommand -> (module, one-line help). A command appears once its module exists.
COMMANDS: dict[str, tuple[str, str]] = {
    "data": ("experiments.commands.data", "fetch, import, validate and list market data"),
    "features": ("experiments.commands.features", "list indicators and compute feature matrices"),
    "train": ("experiments.commands.train", "train an agent (Hydra multirun with -m)"),
    "evaluate": ("experiments.commands.evaluate", "evaluate a checkpoint on the test split"),
    "compare": ("experiments.commands.compare", "compare agents under the same costs"),
    "backtest": ("experiments.commands.backtest", "vectorised backtest of a policy"),
    "walkforward": ("experiments.commands.walkforward", "walk-forward evaluation"),
    "forecast": ("experiments.commands.forecast", "train walk-forward forecasters"),
    "export": ("experiments.commands.export", "export a frozen policy artifact"),
    "deploy": ("experiments.commands.deploy", "run a frozen policy against Aster"),
    "serve": ("experiments.commands.serve", "run the local Aster simulator or the dashboard"),
    "exchange": ("experiments.commands.exchange", "run the local Aster exchange (asterrl exchange serve)"),
}


def available_commands() -> dict[str, tuple[str, str]]:
    return {name: spec for name, spec in COMMANDS.items() if importlib.util.find_spec(spec[0]) is not None}


def usage() -> str:
    lines = [
        f"asterrl {__version__}: RL research platform for Aster DEX perpetual futures",
        "",
        "usage: asterrl <command> [options] [key=value ...]",
        "",
        "commands:",
    ]
    for name, (_, text) in available_commands().items():
        lines.append(f"  {name:<12}{text}")
    lines += [
        "",
        "Run `asterrl <command> --help` for a command's options. key=value arguments are Hydra",
        "overrides of conf/config.yaml, e.g. data.symbol=ETHUSDT or data=shared_btcusdt_1h.",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``asterrl`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0 if args else 2
    if args[0] == "--version":
        print(__version__)
        return 0
    name = args[0]
    commands = available_commands()
    if name not in commands:
        print(f"asterrl: unknown command {name!r}; commands: {', '.join(commands)}", file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(commands[name][0])
        code: int = module.run(args[1:])
        return code
    except AsterRLError as exc:
        print(f"asterrl {name}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"asterrl {name}: interrupted", file=sys.stderr)
        return 130
    except SystemExit as exc:  # argparse after printing --help
        return exc.code if isinstance(exc.code, int) else 0


def split_overrides(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Separate Hydra overrides (``key=value``, ``+key=value``, ``~key``) from ordinary arguments.

    A value that starts with ``~/`` has it expanded to the home folder (whatever the shell did), since
    Hydra's override grammar takes no ``~``; ``~/path`` alone is a path, not a deletion.
    """
    options: list[str] = []
    overrides: list[str] = []
    for token in argv:
        deletion = re.match(r"~[A-Za-z_][\w./]*(=.*)?$", token) is not None
        is_override = not token.startswith("-") and ("=" in token or deletion)
        if is_override and "=" in token:
            key, value = token.split("=", 1)
            if value == "~" or value.startswith("~/"):
                token = f"{key}={os.path.expanduser(value)}"
        (overrides if is_override else options).append(token)
    return options, overrides


if __name__ == "__main__":
    sys.exit(main())
