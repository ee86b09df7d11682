"""Hydra multirun of a research command (``asterrl backtest -m ...``): one job per combination of the swept
overrides, through Hydra's sweeper and launcher (``hydra/sweeper=ray_tune`` runs them as Ray Tune trials),
each job recorded as a trial of its study."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

from omegaconf import DictConfig

from asterrl.errors import AsterRLError, ConfigError
from experiments.config import CONFIG_MODULE, CONFIG_NAME, describe_config_error

#: A job: the composed (unresolved) config of one combination -> its row of the results table.
Job = Callable[[DictConfig], Mapping[str, Any]]


def hydra_multirun(prog: str, overrides: list[str], job: Job) -> int:
    """Run ``job`` once per combination of ``overrides``; the first failure is raised after the sweep."""
    import hydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from experiments import schema

    schema.register()
    errors: list[AsterRLError] = []

    def task(cfg: DictConfig) -> Mapping[str, Any]:
        try:
            return job(cfg)
        except AsterRLError as exc:
            failure: AsterRLError = exc
        except (HydraException, OmegaConfBaseException) as exc:
            failure = ConfigError(describe_config_error(exc))
        errors.append(failure)
        print(f"{prog}: job failed: {failure}", file=sys.stderr)
        return {"error": str(failure)}

    main = hydra.main(version_base="1.3", config_path=f"pkg://{CONFIG_MODULE}", config_name=CONFIG_NAME)(task)
    saved = sys.argv
    quiet = [
        f"hydra/{k}=disabled"
        for k in ("job_logging", "hydra_logging")
        if not any(o.startswith(f"hydra/{k}") for o in overrides)
    ]
    sys.argv = [prog.replace(" ", "-"), "--multirun", *quiet, *overrides]
    try:
        main()
    except SystemExit as exc:  # Hydra exits on a bad override, or when the sweeper reports failed jobs
        if exc.code:
            if errors:
                raise errors[0] from None
            raise ConfigError("the multirun stopped (see the message above)") from None
    finally:
        sys.argv = saved
    if errors:
        raise errors[0]
    return 0
