"""The deployment's experience read back from its state store as arrays (for the online learning to come).

One row per settled decision, in bar order: the observation the policy saw, its action, the target it
wanted and the target the risk gate allowed, the position and equity at the decision, what filled, and the
reward of the step in the env's ``log_return`` form (``log(equity after / equity before)``, before any
reward shaping) — the same quantities an env rollout gives for ``(obs, action, reward, next obs)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from asterrl.live.store import StateStore

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Experience:
    """Settled decisions as arrays (``n`` rows).

    :param bar_ms: decision bar open times, ms UTC, ``(n,)``.
    :param observations: float32 ``(n, observation size)``.
    :param actions: the policy's raw actions ``(n,)`` (indices for discrete policies).
    :param target_qty: wanted position, base asset; ``gated_qty``: what the gate allowed.
    :param position_qty: position at the decision, base asset; ``equity``: equity then, USDT.
    :param fill_qty: signed quantity filled for the decision; ``fill_notional``, ``fees`` in USDT.
    :param rewards: ``log(next equity / equity)``.
    """

    bar_ms: npt.NDArray[np.int64]
    observations: npt.NDArray[np.float32]
    actions: FloatArray
    target_qty: FloatArray
    gated_qty: FloatArray
    position_qty: FloatArray
    equity: FloatArray
    fill_qty: FloatArray
    fill_notional: FloatArray
    fees: FloatArray
    rewards: FloatArray

    def __len__(self) -> int:
        return int(self.bar_ms.shape[0])


_COLUMNS = ("bar_ms, observation, action, target_qty, gated_qty, position_qty, equity, fill_qty, "
            "fill_notional, fees, reward")  # fmt: skip


def read_experience(path: str | Path) -> Experience:
    """Every settled decision of the deployment whose state file is ``path``."""
    store = StateStore(path)
    try:
        rows = [r for r in store.decisions(_COLUMNS) if r[10] is not None]
    finally:
        store.close()
    size = len(rows[0][1]) // 4 if rows else 0
    obs = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), size)

    def col(i: int) -> FloatArray:
        return np.array([r[i] for r in rows], dtype=np.float64)

    return Experience(
        bar_ms=np.array([r[0] for r in rows], dtype=np.int64),
        observations=obs.copy(),
        actions=col(2),
        target_qty=col(3),
        gated_qty=col(4),
        position_qty=col(5),
        equity=col(6),
        fill_qty=col(7),
        fill_notional=col(8),
        fees=col(9),
        rewards=col(10),
    )
