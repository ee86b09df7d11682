"""Start and stop Ray for a run or a sweep: a quiet local Ray with its files at a short path, or a cluster.

Ray names unix sockets inside its session folder (``<temp>/session_<date>_<pid>/sockets/plasma_store``), and
a unix socket path may hold at most 107 bytes: a session folder under a run directory (``~/.asterrl/runs/
default/ppo-s0-agent.lr=0.0001,seed=0/...``) overflows it. The local Ray therefore always keeps its files in
a fresh short folder under the system's temporary directory (``/tmp`` when that is too deep), removed when
the session ends, whatever the run directory.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from asterrl.errors import ConfigError
from experiments.training.config import RayConfig

#: Longest path the kernel takes for a unix socket (``sun_path`` holds 108 bytes with the final NUL).
UNIX_SOCKET_MAX = 107
#: What Ray appends to its temp folder for its longest socket:
#: ``/session_YYYY-MM-DD_HH-MM-SS_ffffff_<pid up to 7 digits>/sockets/plasma_store``.
RAY_SOCKET_SUFFIX = len("/session_2026-11-28_09-46-35_123456_4194304/sockets/plasma_store")
#: Loggers whose start-up banners and deprecation notices users should not see.
_QUIET_LOGGERS = ("ray", "ray.rllib", "ray.tune", "ray.train", "ray.data", "ray.air")


def ray_temp_root() -> Path:
    """A folder short enough for Ray's sockets: the system temporary folder, or ``/tmp`` when it is deep."""
    root = Path(tempfile.gettempdir())
    if len(str(root)) + len("/asterrl-ray-xxxxxxxx") + RAY_SOCKET_SUFFIX > UNIX_SOCKET_MAX:
        root = Path("/tmp")
    return root


def socket_path_fits(temp_dir: Path) -> bool:
    """Whether Ray's longest socket path under ``temp_dir`` stays within the unix limit."""
    return len(str(temp_dir)) + RAY_SOCKET_SUFFIX <= UNIX_SOCKET_MAX


def quiet_ray() -> None:
    """Hide Ray's banners (``You are running PPO on the new API stack!``), deprecation warnings and
    gymnasium's env re-registration notice; errors still show."""
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    for category in (DeprecationWarning, FutureWarning, PendingDeprecationWarning):
        warnings.filterwarnings("ignore", category=category, module=r"ray(\..*)?")
        warnings.filterwarnings("ignore", category=category, module=r"gymnasium(\..*)?")
    warnings.filterwarnings("ignore", message=r".*Overriding environment .* already in registry.*")
    warnings.filterwarnings("ignore", message=r".*(deprecated|Deprecat).*", module=r"ray(\..*)?")


@contextmanager
def ray_session(cfg: RayConfig, run_dir: Path | None = None) -> Iterator[None]:
    """Ray for the duration of the block; shut down after it (only what this block started).

    Local: ``num_cpus`` CPUs, no dashboard, bound to ``node_ip_address``, files in a short temporary
    folder removed afterwards. Cluster: ``ray.init(address=...)``. Ray already running (a Tune trial): used
    as it is.

    :param run_dir: not used: Ray's files never go into a run folder (callers that name one still work).
    """
    import ray

    quiet_ray()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if ray.is_initialized():
        with _trainable_logs_in(None):
            yield
        return
    runtime_env = {
        "env_vars": {
            "OMP_NUM_THREADS": os.environ["OMP_NUM_THREADS"],
            "RAY_AUTH_MODE": "disabled",
            "PYTHONWARNINGS": "ignore::DeprecationWarning",
        }
    }
    kwargs: dict[str, Any] = {"runtime_env": runtime_env, "log_to_driver": False, "logging_level": "ERROR"}
    scratch = Path(tempfile.mkdtemp(prefix="asterrl-ray-", dir=ray_temp_root()))
    if not socket_path_fits(scratch):
        shutil.rmtree(scratch, ignore_errors=True)
        raise ConfigError(f"no temporary folder short enough for Ray's sockets (tried {scratch})")
    try:
        if cfg.address:
            ray.init(address=cfg.address, **kwargs)
        else:
            ray.init(
                num_cpus=cfg.local_cpus(),
                include_dashboard=False,
                _node_ip_address=cfg.node_ip_address,
                _temp_dir=str(scratch),
                **kwargs,
            )
        with _trainable_logs_in(scratch):
            yield
    finally:
        if ray.is_initialized():
            ray.shutdown()
        shutil.rmtree(scratch, ignore_errors=True)


@contextmanager
def _trainable_logs_in(folder: Path | None) -> Iterator[None]:
    """Point the log folder of RLlib Algorithms built in this process at ``folder/rllib`` (a scratch one).

    Ray 2.60's ``Trainable`` without a Tune ``StorageContext`` always makes an (empty) log folder under the
    module constant ``DEFAULT_STORAGE_PATH`` (``~/ray_results``), which must stay out of the user's home and
    out of the run directory.
    """
    from ray.tune.trainable import trainable

    previous = trainable.DEFAULT_STORAGE_PATH
    target = folder or Path(tempfile.mkdtemp(prefix="asterrl-rllib-", dir=ray_temp_root()))
    trainable.DEFAULT_STORAGE_PATH = str(target / "rllib")
    try:
        yield
    finally:
        trainable.DEFAULT_STORAGE_PATH = previous
        if folder is None:
            shutil.rmtree(target, ignore_errors=True)
