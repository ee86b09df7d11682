"""``hydra/sweeper=ray_tune``: each combination of the sweep overrides is one Ray Tune trial.

The sweep, read top to bottom: parse the overrides into a grid (``grid.sweep_grid``), compose every trial's
configuration here in the driver (bad values fail before anything starts; timestamps and environment
variables resolve once), start Ray (a local Ray with ``ray.num_cpus`` CPUs and its files in the sweep
directory, or the cluster at ``ray.address``), let Tune run one trial per combination, each calling the
application's task function exactly as Hydra's basic launcher does (``hydra.core.utils.run_job``), then
print the results table and write it as ``<hydra.sweep.dir>/results.csv``. Tune's own records go to
``<hydra.sweep.dir>/tune`` (never ``~/ray_results``).

A task function that returns a mapping of scalars (metrics, the run directory) has them reported to Tune
and written to the table; a mapping with an ``error`` entry, or an exception, marks the trial failed. The
sweep runs every trial, then raises ``SweepError`` naming the first failure.
"""

import os
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobStatus, run_job
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import Container, DictConfig, OmegaConf, open_dict

from asterrl.files import atomic_write
from experiments.training.config import RayConfig
from hydra_plugins.asterrl_ray_tune.config import TrialResources
from hydra_plugins.asterrl_ray_tune.grid import SweepError, SweepGrid, sweep_grid
from hydra_plugins.asterrl_ray_tune.results import Cell, publish, sweep_row

#: Tune's experiment folder in the sweep directory.
TUNE_DIR = "tune"
#: Columns Tune adds to every result; not part of the table.
_TUNE_KEYS = frozenset(
    {
        "training_iteration",
        "time_total_s",
        "time_this_iter_s",
        "time_since_restore",
        "timesteps_total",
        "timesteps_since_restore",
        "iterations_since_restore",
        "episodes_total",
        "timestamp",
        "date",
        "node_ip",
        "hostname",
        "pid",
        "config",
        "trial_id",
        "experiment_tag",
        "done",
        "should_checkpoint",
        "checkpoint_dir_name",
    }
)


@dataclass(frozen=True)
class TrialJob:
    """One trial: its Hydra job number and fully composed configuration (the Hydra section included)."""

    num: int
    config: DictConfig


class RayTuneSweeper(Sweeper):
    """A grid sweep run as Ray Tune trials (see the module docstring and ``config.RayTuneSweeperConf``)."""

    def __init__(
        self,
        max_concurrent_trials: int | None = None,
        resources_per_trial: TrialResources | Mapping[str, float] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.resources = _trial_resources(resources_per_trial)
        if max_concurrent_trials is not None and max_concurrent_trials < 1:
            raise SweepError("hydra.sweeper.max_concurrent_trials must be >= 1 (or null: no limit)")
        self.max_concurrent_trials = max_concurrent_trials
        self.params = dict(params or {})
        self.hydra_context: HydraContext | None = None
        self.config: DictConfig | None = None
        self.task_function: TaskFunction | None = None
        self.launcher = None  # Tune launches the trials

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.hydra_context = hydra_context
        self.task_function = task_function
        self.config = config

    def sweep(self, arguments: list[str]) -> list[dict[str, Cell]]:
        """Run one trial per combination of ``arguments`` (Hydra's task overrides); the results table."""
        assert self.hydra_context is not None and self.config is not None and self.task_function is not None
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        requested = [f"{key}={value}" for key, value in self.params.items()] + list(arguments)
        grid = sweep_grid(parser.parse_overrides(requested))
        sweep_dir = Path(str(self.config.hydra.sweep.dir)).expanduser().resolve()
        sweep_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(sweep_dir / "multirun.yaml", OmegaConf.to_yaml(self.config))
        jobs = {
            point: TrialJob(num, self._job_config(num, grid.overrides(point), sweep_dir))
            for num, point in enumerate(grid.points())
        }
        rows = self._run_trials(grid, jobs, sweep_dir)
        table = publish(rows, sweep_dir)
        failed = [row for row in rows if row.get("status") != "ok"]
        if failed:
            first = failed[0]
            raise SweepError(
                f"{len(failed)} of {len(rows)} trials failed (job {first['job']}: {first.get('error')}); "
                f"results in {table}"
            )
        return rows

    def _job_config(self, num: int, overrides: list[str], sweep_dir: Path) -> DictConfig:
        """The composed configuration of job ``num``, its application part resolved here in the driver."""
        assert self.hydra_context is not None and self.config is not None
        config = self.hydra_context.config_loader.load_sweep_config(self.config, overrides)
        with open_dict(config):
            config.hydra.job.id = num
            config.hydra.job.num = num
            config.hydra.sweep.dir = str(sweep_dir)
            config.hydra.sweep.subdir = str(OmegaConf.select(config, "hydra.sweep.subdir"))
            for key in [str(k) for k in config if k != "hydra"]:
                node = config._get_node(key)
                if isinstance(node, Container):
                    OmegaConf.resolve(node)
                else:
                    config[key] = config[key]
        return config

    def _run_trials(
        self, grid: SweepGrid, jobs: Mapping[tuple[str, ...], TrialJob], sweep_dir: Path
    ) -> list[dict[str, Cell]]:
        import ray
        from ray import tune

        from experiments.training.ray_session import ray_session
        from hydra_plugins.asterrl_ray_tune._console import TrialLog

        assert self.config is not None
        ray_config = _ray_config(self.config)
        axes = tuple(grid.axes)
        where = ray_config.address or f"a local Ray with {ray_config.local_cpus()} CPUs"
        print(f"Ray Tune: {len(jobs)} trials on {where}; sweep directory {sweep_dir}")
        with ray_session(ray_config):
            if not ray_config.address:
                _check_capacity(self.resources, ray.cluster_resources(), ray_config)
            trainable = tune.with_resources(
                tune.with_parameters(
                    run_trial,
                    jobs=dict(jobs),
                    axes=axes,
                    hydra_context=self.hydra_context,
                    task_function=self.task_function,
                    cwd=os.getcwd(),
                ),
                {"cpu": self.resources.cpu, "gpu": self.resources.gpu},
            )
            tuner = tune.Tuner(
                trainable,
                param_space={key: tune.grid_search(list(values)) for key, values in grid.axes.items()},
                tune_config=tune.TuneConfig(
                    max_concurrent_trials=self.max_concurrent_trials,
                    trial_dirname_creator=_trial_dirname(jobs, axes),
                ),
                run_config=tune.RunConfig(
                    name=TUNE_DIR,
                    storage_path=str(sweep_dir),
                    verbose=0,
                    log_to_file=True,
                    callbacks=[TrialLog({point: job.num for point, job in jobs.items()}, axes)],
                ),
            )
            with _environment(RAY_AIR_NEW_OUTPUT="0"):  # Tune's console output off (its records stay)
                results = tuner.fit()
        rows: list[dict[str, Cell]] = []
        for index in range(len(results)):
            result = results[index]
            point = _point(result.config or {}, axes)
            reported = {k: _cell(v) for k, v in (result.metrics or {}).items() if k not in _TUNE_KEYS}
            if not reported:  # the trial died before reporting (a lost worker, ...)
                reported = {"status": "failed", "error": _first_line(result.error)}
            rows.append(sweep_row(jobs[point].num, dict(zip(axes, point, strict=True)), reported))
        return sorted(rows, key=lambda r: int(r["job"] or 0))


def run_trial(
    trial_config: Mapping[str, Any],
    *,
    jobs: Mapping[tuple[str, ...], TrialJob],
    axes: Sequence[str],
    hydra_context: HydraContext,
    task_function: TaskFunction,
    cwd: str,
) -> None:
    """The Tune trainable: run the task function on the job of ``trial_config`` and report its outcome.

    Runs in a Ray worker (Ray is already initialised there: code that would start Ray must use the running
    one). Works from the driver's directory when this node has it, so relative paths mean the same.
    """
    from ray import tune

    job = jobs[_point(trial_config, axes)]
    if os.path.isdir(cwd):
        os.chdir(cwd)
    ret = run_job(
        hydra_context=hydra_context,
        task_function=task_function,
        config=job.config,
        job_dir_key="hydra.sweep.dir",
        job_subdir_key="hydra.sweep.subdir",
    )
    report: dict[str, Cell] = {"job": job.num}
    if ret.status == JobStatus.COMPLETED:
        value = ret.return_value
        values = dict(value) if isinstance(value, Mapping) else {}
        report["status"] = "failed" if values.get("error") or values.get("status") == "failed" else "ok"
        report.update({str(key): _cell(v) for key, v in values.items() if key != "status"})
    else:
        try:
            _ = ret.return_value  # re-raises the job's exception
            message = "the job did not complete"
        except Exception as exc:
            traceback.print_exception(exc, file=sys.stderr)  # into the trial's log file
            message = _first_line(exc)
        report.update({"status": "failed", "error": message})
    tune.report(report)


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Environment variables set for the block, restored after it."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _trial_resources(value: TrialResources | Mapping[str, float] | None) -> TrialResources:
    if value is None:
        resources = TrialResources()
    elif isinstance(value, TrialResources):
        resources = value
    else:
        plain = OmegaConf.to_container(value) if isinstance(value, DictConfig) else dict(value)
        assert isinstance(plain, dict)
        unknown = set(plain) - {"cpu", "gpu"}
        if unknown:
            raise SweepError(f"hydra.sweeper.resources_per_trial takes cpu and gpu, not {sorted(unknown)}")
        resources = TrialResources(**{str(k): float(v) for k, v in plain.items()})
    if resources.cpu < 0 or resources.gpu < 0 or resources.cpu + resources.gpu <= 0:
        raise SweepError("hydra.sweeper.resources_per_trial: cpu and gpu must be >= 0, and not both 0")
    return resources


def _ray_config(config: DictConfig) -> RayConfig:
    """The application's ``ray`` section as a ``RayConfig`` (defaults when it has none)."""
    section = OmegaConf.select(config, "ray")
    if section is None:
        return RayConfig().validate()
    fields = OmegaConf.to_container(section, resolve=True)
    assert isinstance(fields, dict)
    return RayConfig(**{str(k): v for k, v in fields.items()}).validate()


def _check_capacity(resources: TrialResources, available: Mapping[str, float], ray_config: RayConfig) -> None:
    """A trial must fit the local Ray, or Tune would wait for it forever."""
    cpus, gpus = float(available.get("CPU", 0.0)), float(available.get("GPU", 0.0))
    if resources.cpu > cpus:
        raise SweepError(
            f"a trial asks for {resources.cpu:g} CPUs (hydra.sweeper.resources_per_trial.cpu) but the local "
            f"Ray has {cpus:g} (ray.num_cpus={ray_config.num_cpus})"
        )
    if resources.gpu > gpus:
        raise SweepError(
            f"a trial asks for {resources.gpu:g} GPUs (hydra.sweeper.resources_per_trial.gpu) but the local "
            f"Ray sees {gpus:g}"
        )


def _point(trial_config: Mapping[str, Any], axes: Sequence[str]) -> tuple[str, ...]:
    return tuple(str(trial_config[key]) for key in axes)


def _trial_dirname(jobs: Mapping[tuple[str, ...], TrialJob], axes: Sequence[str]) -> Callable[[Any], str]:
    """Tune folder name of a trial: ``job<num>_<trial id>`` (override values may not be valid file names)."""

    def dirname(trial: Any) -> str:
        return f"job{jobs[_point(trial.config, axes)].num}_{trial.trial_id}"

    return dirname


def _cell(value: Any) -> Cell:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if hasattr(value, "item"):  # numpy scalars
        item = value.item()
        if isinstance(item, int | float | bool):
            return item
    return str(value)


def _first_line(error: BaseException | None) -> str:
    if error is None:
        return "the trial ended without a result"
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")
