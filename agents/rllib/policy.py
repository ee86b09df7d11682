"""A trained RLlib ``RLModule`` as a ``Policy``: deterministic actions, recurrent state per account."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import tree
from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.rl_module import RLModule

from agents.policy import DecisionContext
from asterrl.errors import ConfigError

#: Where an algorithm checkpoint keeps the policy's RLModule.
MODULE_SUBPATH = Path("learner_group") / "learner" / "rl_module" / "default_policy"


def module_path(checkpoint: str | Path) -> Path:
    """Absolute path of the RLModule inside an algorithm checkpoint (or of a module checkpoint itself)."""
    root = Path(checkpoint).expanduser().resolve()
    for candidate in (root / MODULE_SUBPATH, root):
        if (candidate / "module_state.pt").exists() or (candidate / "class_and_ctor_args.pkl").exists():
            return candidate
    raise ConfigError(f"{checkpoint} is not an RLlib checkpoint (no {MODULE_SUBPATH})")


class RLlibPolicy:
    """Greedy actions of an RLlib PPO module (argmax of the logits, or the mean of a Gaussian)."""

    def __init__(self, module: RLModule, name: str = "ppo") -> None:
        self.module = module
        module.eval()  # type: ignore[attr-defined]
        self.name = name
        self._recurrent = bool(module.is_stateful())
        # Recurrent state is a nested dict of tensors (e.g. {"actor": {"h", "c"}, "critic": {...}}), one
        # leaf per layer state without a batch dimension; ``tree`` maps over whatever nesting the module uses.
        self._state: Any = None
        self._initial: Any = module.get_initial_state() if self._recurrent else {}

    @classmethod
    def load(cls, checkpoint: str | Path, name: str = "ppo") -> RLlibPolicy:
        """Restore the module from an algorithm (or module) checkpoint on the CPU."""
        module = RLModule.from_checkpoint(str(module_path(checkpoint)))
        return cls(module, name)

    def act(
        self, observations: npt.NDArray[np.float32], context: DecisionContext | None = None
    ) -> npt.NDArray[np.int64] | npt.NDArray[np.float64]:
        obs = torch.as_tensor(np.asarray(observations, dtype=np.float32))
        batch: dict[str, Any] = {Columns.OBS: obs}
        if self._recurrent:
            n = obs.shape[0]
            if self._state is None or tree.flatten(self._state)[0].shape[0] != n:
                self._state = tree.map_structure(
                    lambda v: v.unsqueeze(0).repeat(n, *([1] * v.dim())), self._initial
                )
            batch[Columns.OBS] = obs.unsqueeze(1)
            batch[Columns.STATE_IN] = self._state
        with torch.no_grad():
            out = self.module.forward_inference(batch)
        logits = out[Columns.ACTION_DIST_INPUTS]
        if self._recurrent:
            self._state = out[Columns.STATE_OUT]
            logits = logits[:, 0]
        dist_cls = self.module.get_inference_action_dist_cls()
        dist = dist_cls.from_logits(logits).to_deterministic()
        action: Any = dist.sample()
        return np.asarray(action.cpu().numpy())

    def reset(self, mask: npt.NDArray[np.bool_] | None = None) -> None:
        """Zero the recurrent state of the accounts in ``mask`` (all when ``None``)."""
        if self._state is None:
            return
        if mask is None:
            self._state = None
            return
        rows = torch.as_tensor(np.asarray(mask, dtype=np.bool_))

        def zero_rows(value: torch.Tensor, initial: torch.Tensor) -> torch.Tensor:
            value = value.clone()
            value[rows] = initial.to(value.dtype)
            return value

        self._state = tree.map_structure(zero_rows, self._state, self._initial)

    def seed(self, seed: int) -> None:
        torch.manual_seed(seed)
