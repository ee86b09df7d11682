"""The ``ray_tune`` option of the ``hydra/sweeper`` config group (registered when Hydra scans its plugins)."""

from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore


@dataclass
class TrialResources:
    """What Ray reserves for one trial.

    :param cpu: CPUs per trial (fractions allowed). An RLlib agent with ``num_env_runners > 0`` starts
        its env runners as further Ray actors: leave CPUs free for them (``max_concurrent_trials``).
    :param gpu: GPUs per trial (fractions allowed); Ray sets ``CUDA_VISIBLE_DEVICES`` for the trial.
    """

    cpu: float = 1.0
    gpu: float = 0.0


@dataclass
class RayTuneSweeperConf:
    """``hydra/sweeper=ray_tune``: a grid over the sweep overrides, one Ray Tune trial per combination.

    Where Ray runs comes from the application config's ``ray`` section (``ray.address=auto`` or
    ``ray://host:10001`` for a cluster; otherwise a local Ray with ``ray.num_cpus`` CPUs).

    :param max_concurrent_trials: trials running at once; ``null``: as many as the resources allow.
    :param resources_per_trial: CPUs and GPUs reserved for each trial.
    :param params: sweep overrides kept in config, ``key: "v1,v2"`` (the command line adds to them).
    """

    _target_: str = "hydra_plugins.asterrl_ray_tune.sweeper.RayTuneSweeper"
    max_concurrent_trials: int | None = None
    resources_per_trial: TrialResources = field(default_factory=TrialResources)
    params: dict[str, str] | None = None


ConfigStore.instance().store(
    group="hydra/sweeper", name="ray_tune", node=RayTuneSweeperConf, provider="asterrl"
)
