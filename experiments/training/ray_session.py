"""Start and stop Ray for a run: a local Ray whose files stay in the run directory, or an existing cluster."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from experiments.training.config import RayConfig


@contextmanager
def ray_session(cfg: RayConfig, run_dir: Path) -> Iterator[None]:
    """Ray for the duration of the block; shut down after it (only what this block started).

    Local: ``num_cpus`` CPUs, no dashboard, bound to ``node_ip_address``, temporary files in
    ``<run_dir>/ray`` (a short path under ``/tmp`` when that one is too long for Ray's sockets). Cluster:
    ``ray.init(address=...)``.
    """
    import ray

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if ray.is_initialized():
        with _trainable_logs_in(run_dir):
            yield
        return
    runtime_env = {
        "env_vars": {"OMP_NUM_THREADS": os.environ["OMP_NUM_THREADS"], "RAY_AUTH_MODE": "disabled"}
    }
    kwargs: dict[str, Any] = {"runtime_env": runtime_env, "log_to_driver": False, "logging_level": "ERROR"}
    scratch: Path | None = None
    if cfg.address:
        ray.init(address=cfg.address, **kwargs)
    else:
        temp = run_dir.resolve() / "ray"
        if len(str(temp)) > 60:  # Ray's unix socket paths must stay under ~107 characters
            temp = Path(tempfile.mkdtemp(prefix="asterrl-ray-"))
            scratch = temp
        ray.init(
            num_cpus=cfg.local_cpus(),
            include_dashboard=False,
            _node_ip_address=cfg.node_ip_address,
            _temp_dir=str(temp),
            **kwargs,
        )
    try:
        with _trainable_logs_in(run_dir):
            yield
    finally:
        ray.shutdown()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


@contextmanager
def _trainable_logs_in(run_dir: Path) -> Iterator[None]:
    """Point the log folder of RLlib Algorithms built in this process at ``<run_dir>/rllib``.

    Ray 2.60's ``Trainable`` without a Tune ``StorageContext`` always makes its log folder under the module
    constant ``DEFAULT_STORAGE_PATH`` (``~/ray_results``), which must stay out of the user's home.
    """
    from ray.tune.trainable import trainable

    previous = trainable.DEFAULT_STORAGE_PATH
    trainable.DEFAULT_STORAGE_PATH = str(run_dir.resolve() / "rllib")
    try:
        yield
    finally:
        trainable.DEFAULT_STORAGE_PATH = previous
