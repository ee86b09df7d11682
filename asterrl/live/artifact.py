"""Load a frozen policy: verify every file, load the exported network, and check it fits where it goes.

``load_artifact(path, expect)`` refuses, with one ``ArtifactError`` line and before anything trades:

* a manifest or file that was edited (sha256), a missing or unlisted file, an unknown format version;
* a network that does not take the manifest's observation size or gives another kind of action;
* features whose pipeline builds other columns than the observation layout lists (another feature set);
* a symbol, interval or feature set other than the deployment expects (``Expectation``).

Loading needs torch and ``asterrl`` only: no Ray, SB3 or Hydra on the trading path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch

from asterrl.errors import ArtifactError, AsterRLError
from asterrl.live.manifest import NETWORK_FILE, Manifest, read_manifest


@dataclass(frozen=True, slots=True)
class Expectation:
    """What the deployment demands of an artifact (``None`` = not checked).

    :param symbol: the symbol it will trade.
    :param interval: the bar interval it will decide on.
    :param feature_fingerprint: ``Manifest.feature_fingerprint`` of the feature set it must use.
    """

    symbol: str | None = None
    interval: str | None = None
    feature_fingerprint: str | None = None


class FrozenPolicy:
    """A verified artifact: the manifest and the network giving deterministic actions.

    :param directory: the artifact directory.
    :param manifest: its verified manifest.
    :param network: the ``torch.export`` program's module (float32 ``(batch, flat size)`` -> actions).
    """

    def __init__(self, directory: Path, manifest: Manifest, network: torch.nn.Module) -> None:
        self.directory = directory
        self.manifest = manifest
        self.network = network
        self.discrete = manifest.action.action_type == "discrete"
        self._size = manifest.layout.size

    def act(self, observations: npt.NDArray[np.float32]) -> npt.NDArray[np.int64] | npt.NDArray[np.float32]:
        """Deterministic actions for a batch of flat observations: indices ``(n,)`` or values ``(n, 1)``."""
        obs = np.ascontiguousarray(observations, dtype=np.float32)
        if obs.ndim != 2 or obs.shape[1] != self._size:
            raise ArtifactError(f"observations of shape {obs.shape}; the policy takes (n, {self._size})")
        with torch.inference_mode():
            out = self.network(torch.from_numpy(obs))
        return out.numpy()

    def act_one(self, observation: npt.NDArray[np.float32]) -> float:
        """The action for one flat observation, as a float (an index for discrete actions)."""
        return float(self.act(observation.reshape(1, -1)).reshape(-1)[0])


def _load_network(directory: Path) -> torch.nn.Module:
    try:
        network = torch.export.load(str(directory / NETWORK_FILE)).module()
    except Exception as exc:  # torch raises many types for a file that is not an exported program
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise ArtifactError(
            f"artifact {directory}: {NETWORK_FILE} is not an exported torch network ({first})"
        ) from None
    return network


def _probe(directory: Path, manifest: Manifest, network: torch.nn.Module) -> None:
    """Run a batch of two zero observations and check the action's shape, type and range."""
    size = manifest.layout.size
    try:
        with torch.inference_mode():
            out = network(torch.zeros((2, size), dtype=torch.float32))
    except Exception as exc:  # a shape guard of the exported program, or an operator's error
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ArtifactError(
            f"artifact {directory}: the network does not take the manifest's observation of {size} values "
            f"({first[:160]})"
        ) from None
    action = manifest.action
    if action.action_type == "discrete":
        ok = out.dtype == torch.int64 and tuple(out.shape) == (2,)
        ok = ok and bool(((out >= 0) & (out < len(action.levels))).all())
        what = f"indices into {len(action.levels)} levels"
    else:
        ok = out.dtype == torch.float32 and tuple(out.shape) == (2, 1)
        what = "one float32 value per observation"
    if not ok:
        raise ArtifactError(
            f"artifact {directory}: the network gives {out.dtype} of shape {tuple(out.shape)}, "
            f"not {action.action_type} actions ({what})"
        )


def check_feature_columns(directory: Path, manifest: Manifest) -> None:
    """The feature section must build exactly the observation's feature columns (else another feature set)."""
    from asterrl.live.features import feature_columns

    try:
        built = feature_columns(manifest, directory)
    except AsterRLError as exc:
        raise ArtifactError(f"artifact {directory}: its feature section cannot be rebuilt ({exc})") from None
    wanted = manifest.layout.feature_columns
    if built != wanted:
        differ = next((b, w) for b, w in zip([*built, "-"], [*wanted, "-"], strict=False) if b != w)
        raise ArtifactError(
            f"artifact {directory}: its features build {len(built)} columns but the observation layout lists "
            f"{len(wanted)} (first difference: {differ[0]!r} vs {differ[1]!r}): another feature set"
        )


def check_expectation(directory: Path, manifest: Manifest, expect: Expectation) -> None:
    """Refuse an artifact made for another symbol, interval or feature set than ``expect`` names."""
    if expect.symbol is not None and manifest.symbol != expect.symbol:
        raise ArtifactError(
            f"artifact {directory} was trained on {manifest.symbol}, not {expect.symbol}: "
            "refusing to trade it there"
        )
    if expect.interval is not None and manifest.interval != expect.interval:
        raise ArtifactError(
            f"artifact {directory} decides on {manifest.interval} bars, not {expect.interval}"
        )
    fingerprint = expect.feature_fingerprint
    if fingerprint is not None and manifest.feature_fingerprint != fingerprint:
        raise ArtifactError(
            f"artifact {directory} uses another feature set (fingerprint "
            f"{manifest.feature_fingerprint[:12]}, expected {fingerprint[:12]})"
        )


def load_artifact(path: str | Path, expect: Expectation | None = None) -> FrozenPolicy:
    """Verify and load the artifact at ``path`` (see the module docstring for what is refused)."""
    directory = Path(path).expanduser().resolve()
    manifest = read_manifest(directory)
    check_expectation(directory, manifest, expect or Expectation())
    check_feature_columns(directory, manifest)
    network = _load_network(directory)
    _probe(directory, manifest, network)
    return FrozenPolicy(directory, manifest, network)
