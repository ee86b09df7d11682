"""Trained policies as ``torch.export`` programs that give the same deterministic actions, with torch alone.

Each wrapper replays the framework's own inference path operation for operation, so the frozen network's
actions equal the original's bit for bit (tested on 10,000 recorded observations):

* SB3 ``ActorCriticPolicy.predict(deterministic=True)``: features extractor, actor MLP, action net; a
  discrete action is the argmax of ``softmax(logits - logsumexp(logits))`` (torch's ``Categorical.probs``),
  a continuous one the Gaussian mean clipped to the action space.
* RLlib ``RLModule.forward_inference``: the module's own forward, traced; a discrete action is the argmax
  of the logits (``TorchCategorical.to_deterministic``), a continuous one the mean half of the Gaussian's
  inputs (``TorchDiagGaussian.to_deterministic``).

The wrappers take float32 observations ``(batch, flat size)`` and return int64 ``(batch,)`` indices or
float32 ``(batch, 1)`` values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from asterrl.errors import ConfigError


class SB3Actor(nn.Module):
    """The actor half of an SB3 ``ActorCriticPolicy`` with its deterministic action rule."""

    def __init__(self, policy: Any, discrete: bool, low: float = -1.0, high: float = 1.0) -> None:
        super().__init__()
        if getattr(policy, "squash_output", False):
            raise ConfigError("SB3 policies with squashed outputs are not supported by asterrl export")
        self.features_extractor = policy.pi_features_extractor
        self.policy_net = policy.mlp_extractor.policy_net
        self.action_net = policy.action_net
        self.discrete = discrete
        self.low = low
        self.high = high

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        features = self.features_extractor(obs.float())
        out = self.action_net(self.policy_net(features))
        if self.discrete:
            logits = out - out.logsumexp(dim=-1, keepdim=True)
            return torch.argmax(torch.softmax(logits, dim=-1), dim=1)
        return torch.clamp(out, self.low, self.high)


class RLlibActor(nn.Module):
    """An RLlib ``RLModule``'s inference forward with its deterministic action rule (feed-forward only)."""

    def __init__(self, module: Any, discrete: bool) -> None:
        super().__init__()
        if module.is_stateful():
            raise ConfigError(
                "asterrl export does not support recurrent (use_lstm) RLlib policies yet: export a "
                "feed-forward checkpoint"
            )
        self.module = module
        self.discrete = discrete

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        from ray.rllib.core.columns import Columns

        logits = self.module.forward_inference({Columns.OBS: obs})[Columns.ACTION_DIST_INPUTS]
        if self.discrete:
            return torch.argmax(logits, dim=-1)
        loc, _ = logits.chunk(2, dim=-1)
        return loc


def exported(actor: nn.Module, obs_size: int) -> torch.export.ExportedProgram:
    """``actor`` captured with ``torch.export`` (non-strict: the framework's Python runs once, its tensor
    operations are recorded) for any batch size of ``obs_size`` observations.

    No graph optimisation is applied: the frozen actions must stay the original's bit for bit.
    """
    actor.eval()
    example = torch.randn((8, obs_size), generator=torch.Generator().manual_seed(0))
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    with torch.no_grad():
        return torch.export.export(actor, (example,), dynamic_shapes=({0: batch},), strict=False)


def sb3_network(checkpoint: Path, obs_size: int, discrete: bool) -> torch.export.ExportedProgram:
    """The exported actor of the SB3 ``model.zip`` in ``checkpoint``."""
    from agents.sb3.ppo import SB3Policy

    policy = SB3Policy.load(checkpoint).model.policy
    low, high = -1.0, 1.0
    if not discrete:
        space: Any = policy.action_space
        low, high = float(space.low.min()), float(space.high.max())
    return exported(SB3Actor(policy, discrete, low, high), obs_size)


def rllib_network(checkpoint: Path, obs_size: int, discrete: bool) -> torch.export.ExportedProgram:
    """The exported actor of the RLlib ``RLModule`` inside ``checkpoint``."""
    from agents.rllib.policy import RLlibPolicy

    module = RLlibPolicy.load(checkpoint).module
    return exported(RLlibActor(module, discrete), obs_size)
