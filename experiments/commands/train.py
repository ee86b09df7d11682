"""``asterrl train [-m] [key=value ...]``: train the configured PPO agent (RLlib, or SB3 with agent=sb3_ppo).

One run: ``asterrl train`` composes ``conf/config.yaml`` with the overrides and trains. A sweep: ``asterrl
train -m agent.lr=1e-4,3e-4 seed=0,1`` hands the overrides to Hydra's multirun launcher (one job per
combination, each its own run and TensorBoard run in the same experiment). ``hydra/sweeper=ray_tune`` runs
the same grid as Ray Tune trials, on the cluster at ``ray.address=auto`` (or ``ray://host:10001``) or on a
local Ray of ``ray.num_cpus`` CPUs, with ``hydra.sweeper.max_concurrent_trials`` and
``hydra.sweeper.resources_per_trial.{cpu,gpu}``; it prints a results table and writes it to
``<hydra.sweep.dir>/results.csv``. ``hydra/sweeper=...`` and ``hydra/launcher=...`` select other Hydra
plugins when installed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from omegaconf import DictConfig, OmegaConf

from asterrl.errors import AsterRLError, ConfigError
from experiments.cli import split_overrides
from experiments.config import describe_config_error, load_config


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="asterrl train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "-m", "--multirun", action="store_true", help="Hydra multirun sweep over the overrides"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def run(argv: Sequence[str]) -> int:
    options, overrides = split_overrides(argv)
    args = _parser().parse_args(options)
    if args.no_progress:
        overrides.append("train.progress=false")
    if args.multirun:
        return _multirun(overrides)
    from experiments.training.run import train

    cfg = load_config(overrides)
    result = train(cfg)
    _print_result(result)
    return 0


def _print_result(result: Any) -> None:
    print(f"run:          {result.paths.run_dir}")
    print(f"checkpoint:   {result.checkpoint}")
    print(f"env steps:    {result.env_steps}")
    if result.evaluation is not None:
        m = result.evaluation.metrics
        print(
            f"evaluation:   net return {m.net_return:+.2%}, Sharpe {m.sharpe:.2f}, "
            f"max drawdown {m.max_drawdown:.2%}"
        )
    print(f"tensorboard:  tensorboard --logdir {result.paths.tensorboard_root}")


def _summary(result: Any) -> dict[str, Any]:
    """A run's place and final evaluation metrics, as one row of a sweep's results table."""
    row: dict[str, Any] = {"run_dir": str(result.paths.run_dir), "env_steps": int(result.env_steps)}
    if result.evaluation is not None:
        row.update(result.evaluation.metrics.as_dict())
    return row


def _multirun(overrides: list[str]) -> int:
    """Hydra's own multirun over ``overrides`` (its sweeper and launcher; output under hydra.sweep.dir)."""
    import hydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from experiments import schema
    from experiments.config import CONFIG_MODULE, CONFIG_NAME

    schema.register()
    errors: list[AsterRLError] = []
    #: Keys the sweep varies (a comma list or a sweep function): they name each job's run.
    swept = [
        o.split("=", 1)[0].lstrip("+~")
        for o in overrides
        if "=" in o
        and ("," in o.split("=", 1)[1] or "(" in o.split("=", 1)[1])
        and "/" not in o.split("=", 1)[0]
    ]

    def job(cfg: DictConfig) -> dict[str, Any]:
        """One sweep job: train, print the run, return its summary (``error``: why it failed).

        The sweeper may run it in another process (``hydra/sweeper=ray_tune``): the summary is what
        reaches the driver there, ``errors`` only when the job runs in this process.
        """
        from experiments.training.run import train

        try:
            typed = OmegaConf.to_object(cfg)
            tag = ",".join(f"{key}={OmegaConf.select(cfg, key)}" for key in swept)
            result = train(typed, tag=tag)
            _print_result(result)
            return _summary(result)
        except AsterRLError as exc:
            failure = exc
        except (HydraException, OmegaConfBaseException) as exc:  # a bad value in one job's config
            failure = ConfigError(describe_config_error(exc))
        errors.append(failure)
        print(f"asterrl train: job failed: {failure}", file=sys.stderr)
        return {"error": str(failure)}

    main = hydra.main(version_base="1.3", config_path=f"pkg://{CONFIG_MODULE}", config_name=CONFIG_NAME)(job)
    saved = sys.argv
    quiet = [
        f"hydra/{k}=disabled"
        for k in ("job_logging", "hydra_logging")
        if not any(o.startswith(f"hydra/{k}") for o in overrides)
    ]
    sys.argv = ["asterrl-train", "--multirun", *quiet, *overrides]
    try:
        main()
    except SystemExit as exc:  # hydra exits on a bad override, or when the sweeper reports failed jobs
        if exc.code:
            if errors:
                raise errors[0] from None
            raise ConfigError("the multirun stopped (see the message above)") from None
    finally:
        sys.argv = saved
    if errors:
        raise errors[0]
    return 0
