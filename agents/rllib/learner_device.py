"""Where the PPO learner runs: on the GPU only where a measured update of this network is faster there.

A GPU is not always faster for PPO: with small MLPs and small minibatches the learner is bound by kernel
launches and host-to-device copies, and on a 16-core GPU machine an RLlib run was 0.77x as fast with the
learner on the GPU as on the CPU (issue 12). So ``agent.learner_device=auto`` times the update PPO does
(forward and backward of the policy and value towers on one minibatch, an Adam step, the minibatch copied
from host memory) on both devices and keeps the GPU only when it beats the CPU by ``GPU_MARGIN``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import lru_cache

import torch

from asterrl.errors import ConfigError

#: The GPU must take at most this share of the CPU's time per update to be chosen.
GPU_MARGIN = 0.9

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LearnerWorkload:
    """The shape of one PPO minibatch update.

    :param obs_size: observation features per env step.
    :param hidden_sizes: units of each hidden layer of the policy and value towers.
    :param n_outputs: action-distribution inputs per env step (logits or mean and log-std).
    :param minibatch_size: env steps per SGD step.
    :param threads: torch threads the CPU learner would use.
    """

    obs_size: int
    hidden_sizes: tuple[int, ...]
    n_outputs: int
    minibatch_size: int
    threads: int = 1


def update_seconds(workload: LearnerWorkload, device: str, repeats: int = 20) -> float:
    """Median seconds of one PPO-shaped update of ``workload`` on ``device`` (after two warm-up steps)."""
    target = torch.device(device)

    def tower(outputs: int) -> torch.nn.Sequential:
        layers: list[torch.nn.Module] = []
        width = workload.obs_size
        for units in workload.hidden_sizes:
            layers += [torch.nn.Linear(width, units), torch.nn.Tanh()]
            width = units
        return torch.nn.Sequential(*layers, torch.nn.Linear(width, outputs)).to(target)

    policy, value = tower(workload.n_outputs), tower(1)
    optimizer = torch.optim.Adam([*policy.parameters(), *value.parameters()], lr=1e-4)
    host = torch.randn(workload.minibatch_size, workload.obs_size)
    threads = torch.get_num_threads()
    torch.set_num_threads(workload.threads)
    times: list[float] = []
    try:
        for i in range(repeats + 2):
            start = time.perf_counter()
            batch = host.to(target)
            loss = policy(batch).logsumexp(-1).mean() + value(batch).square().mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if target.type == "cuda":
                torch.cuda.synchronize(target)
            if i >= 2:
                times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)
    return sorted(times)[len(times) // 2]


@lru_cache(maxsize=32)
def gpu_is_faster(workload: LearnerWorkload) -> bool:
    """Measured on this machine: whether the update of ``workload`` runs faster on CUDA than on the CPU."""
    gpu, cpu = update_seconds(workload, "cuda"), update_seconds(workload, "cpu")
    faster = gpu <= GPU_MARGIN * cpu
    log.info(
        "PPO update of %s: %.2f ms on CUDA, %.2f ms on the CPU: learner on the %s",
        workload,
        gpu * 1e3,
        cpu * 1e3,
        "GPU" if faster else "CPU",
    )
    return faster


def learner_on_gpu(
    setting: str,
    workload: LearnerWorkload,
    cuda_available: bool | None = None,
    gpu_faster: bool | None = None,
) -> bool:
    """Whether the learner runs on the GPU for ``agent.learner_device=setting``.

    ``cpu`` and ``cuda`` are obeyed (``cuda`` without a GPU is a ``ConfigError``); ``auto`` uses the GPU
    when torch sees one and ``gpu_faster`` (measured with ``gpu_is_faster`` when ``None``) says so.
    """
    available = torch.cuda.is_available() if cuda_available is None else cuda_available
    if setting == "cuda" and not available:
        raise ConfigError("agent.learner_device=cuda but torch sees no CUDA device")
    if setting != "auto":
        return setting == "cuda"
    if not available:
        return False
    return gpu_is_faster(workload) if gpu_faster is None else gpu_faster
