"""Small frozen-policy artifacts for the bridge's tests: a real exported network on the built-in features.

The network is a seeded linear layer over the flat observation (argmax for discrete actions, tanh for
continuous), written with the same ``write_artifact`` the export uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from asterrl.live.features import builtin_columns
from asterrl.live.manifest import ActionSpec, write_artifact
from asterrl.observation import ObservationLayout
from asterrl.risk.limits import RiskLimits

LEVELS = (-1.0, -0.5, 0.0, 0.5, 1.0)


class LinearPolicy(nn.Module):
    """``argmax(W obs + b)`` (discrete) or ``tanh(w . obs + b)`` (continuous)."""

    def __init__(self, size: int, n_out: int, discrete: bool, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.layer = nn.Linear(size, n_out if discrete else 1)
        self.discrete = discrete

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        out = self.layer(obs)
        if self.discrete:
            return torch.argmax(out, dim=1)
        return torch.tanh(out)


class MomentumPolicy(nn.Module):
    """Long (the last level) after a rising bar, short (the first) after a falling one: it trades on most
    bars, which is what a fault campaign needs. Reads the newest bar's ``log_return`` (built-in features)."""

    def __init__(self, size: int, n_levels: int, window: int, n_features: int) -> None:
        super().__init__()
        self.column = (window - 1) * n_features  # log_return of the newest bar
        self.top = n_levels - 1

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        rising = (obs[:, self.column] > 0).to(torch.int64)
        return rising * self.top


def body(
    layout: ObservationLayout,
    symbol: str = "BTCUSDT",
    interval: str = "1h",
    action: ActionSpec | None = None,
    risk: RiskLimits | None = None,
    features: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Manifest sections of a test artifact (built-in features unless ``features`` is given)."""
    action = action or ActionSpec("discrete", LEVELS, 3.0, 0.05, 0)
    return {
        "policy": {"source": "test", "agent": "linear", "file": "policy.pt2", "recurrent": False},
        "observation": layout.to_manifest(),
        "features": features or {"kind": "builtin"},
        "forecast": None,
        "action": action.to_dict(),
        "market": {"symbol": symbol, "interval": interval, "instrument": None, "model": {}},
        "risk": (risk or RiskLimits()).to_manifest(),
        "training": {"run_id": "test-run", "data_hash": "0" * 64},
        "versions": {},
    }


def linear_artifact(
    target: Path,
    window: int = 4,
    discrete: bool = True,
    seed: int = 0,
    size_offset: int = 0,
    **sections: Any,
) -> Path:
    """Write a test artifact at ``target``; ``size_offset`` makes the network take another input size."""
    layout = ObservationLayout(window, builtin_columns())
    action = sections.pop("action", None) or ActionSpec(
        "discrete" if discrete else "continuous", LEVELS, 3.0, 0.05, 0
    )
    net: nn.Module = LinearPolicy(layout.size + size_offset, len(LEVELS), discrete, seed)
    if sections.pop("momentum", False):
        net = MomentumPolicy(layout.size, len(LEVELS), window, layout.n_features)
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    program = torch.export.export(
        net, (torch.zeros((2, layout.size + size_offset)),), dynamic_shapes=({0: batch},)
    )
    return write_artifact(
        target, lambda p: torch.export.save(program, str(p)), body(layout, action=action, **sections)
    )
