"""``manifest.json`` of a frozen policy: what the network was trained on and how to feed it, typed and hashed.

Sections of the manifest (all JSON; infinities are written as the string ``"inf"``)::

    format, format_version        "asterrl.frozen_policy", FORMAT_VERSION
    policy                        source (rllib | sb3), agent name, network file, output kind
    observation                   ObservationLayout.to_manifest(): window, feature columns, account fields
    features                      {"kind": "builtin"}, or {"kind": "pipeline", "pipeline": <to_dict()>}
    forecast                      null, or {"dir": ..., "observe": [...], "horizon": ..., "fold_plan": ...}
    action                        ActionSpec: action type, levels, position scale, deadband, hold, order type
    market                        symbol, interval, instrument, market model (costs, filters, margin)
    risk                          RiskLimits.to_manifest()
    training                      run id, experiment, checkpoint, iteration, env steps, seed, data hash
    versions                      python and package versions at export
    files                         {relative path: sha256} of every file of the artifact but the manifest
    manifest_sha256               sha256 of the canonical JSON of everything above

The writer (``write_artifact``) and the reader (``read_manifest``) live here together, so the format has
one definition.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from asterrl.errors import ArtifactError
from asterrl.files import atomic_directory, atomic_write_json
from asterrl.observation import ObservationLayout
from asterrl.risk.limits import RiskLimits

FORMAT = "asterrl.frozen_policy"
FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"
NETWORK_FILE = "policy.pt2"
ACTION_TYPES = ("discrete", "continuous")
ORDER_TYPES = ("market", "limit")


def jsonable(value: Any) -> Any:
    """``value`` with non-finite floats as strings (``"inf"``, ``"-inf"``, ``"nan"``), tuples as lists."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def canonical_digest(body: Mapping[str, Any]) -> str:
    """sha256 of ``body`` as canonical JSON (sorted keys, no spaces), ``manifest_sha256`` left out."""
    payload = {k: v for k, v in body.items() if k != "manifest_sha256"}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files_under(root: Path) -> dict[str, str]:
    """``{relative posix path: sha256}`` of every regular file under ``root`` except the manifest."""
    out = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel != MANIFEST_FILE:
            out[rel] = file_sha256(path)
    return out


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """How an action becomes a target position (the env's rule, recorded at export).

    :param action_type: ``discrete`` (index into ``levels``) or ``continuous`` (a value in [-1, 1]).
    :param levels: target positions as fractions of ``position_scale * equity``, for discrete actions.
    :param position_scale: leverage that a target of 1.0 means (position notional / equity).
    :param deadband: a target within this distance (fraction of the scale) of the position is not traded.
    :param min_hold_bars: bars a position is held after a fill before the policy may trade again.
    :param order_type: ``market``, or ``limit`` orders at the decision close offset by ``limit_offset_bps``.
    :param limit_offset_bps: offset of limit orders from the decision close in the trader's favour, bps.
    """

    action_type: str
    levels: tuple[float, ...]
    position_scale: float
    deadband: float
    min_hold_bars: int
    order_type: str = "market"
    limit_offset_bps: float = 0.0

    def __post_init__(self) -> None:
        if self.action_type not in ACTION_TYPES:
            raise ArtifactError(
                f"manifest action.action_type={self.action_type!r}; expected discrete or continuous"
            )
        if self.order_type not in ORDER_TYPES:
            raise ArtifactError(f"manifest action.order_type={self.order_type!r}; expected market or limit")
        if self.action_type == "discrete" and not self.levels:
            raise ArtifactError("manifest action.levels is empty for discrete actions")
        if any(not -1.0 <= level <= 1.0 for level in self.levels):
            raise ArtifactError("manifest action.levels must lie in [-1, 1]")
        if not (self.position_scale > 0.0 and math.isfinite(self.position_scale)):
            raise ArtifactError("manifest action.position_scale must be a finite number > 0")
        if not (0.0 <= self.deadband < 2.0 and self.min_hold_bars >= 0 and self.limit_offset_bps >= 0.0):
            raise ArtifactError(
                "manifest action: deadband in [0, 2), min_hold_bars and limit_offset_bps >= 0"
            )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable(asdict(self))
        return out

    @classmethod
    def from_dict(cls, raw: Any) -> ActionSpec:
        if not isinstance(raw, Mapping):
            raise ArtifactError("manifest action section is not a mapping")
        try:
            return cls(
                action_type=str(raw["action_type"]),
                levels=tuple(float(x) for x in raw["levels"]),
                position_scale=float(raw["position_scale"]),
                deadband=float(raw["deadband"]),
                min_hold_bars=int(raw["min_hold_bars"]),
                order_type=str(raw.get("order_type", "market")),
                limit_offset_bps=float(raw.get("limit_offset_bps", 0.0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(f"manifest action section: bad or missing value ({exc})") from None


@dataclass(frozen=True)
class Manifest:
    """The parsed manifest; ``body`` keeps every section as read."""

    body: dict[str, Any]
    symbol: str
    interval: str
    layout: ObservationLayout
    action: ActionSpec
    risk: RiskLimits

    @property
    def source(self) -> str:
        """Framework the network came from (``rllib`` or ``sb3``)."""
        return str(self.body["policy"]["source"])

    @property
    def features(self) -> dict[str, Any]:
        return dict(self.body["features"])

    @property
    def forecast(self) -> dict[str, Any] | None:
        value = self.body.get("forecast")
        return dict(value) if value else None

    @property
    def market_model(self) -> dict[str, Any]:
        """The cost model the policy was trained under (``MarketModelConfig`` as a dict)."""
        return dict(self.body["market"].get("model") or {})

    @property
    def instrument(self) -> dict[str, Any] | None:
        """The instrument the policy was trained on (``Instrument.to_dict()``), if recorded."""
        value = self.body["market"].get("instrument")
        return dict(value) if value else None

    @property
    def data_hash(self) -> str:
        return str(self.body["training"].get("data_hash"))

    @property
    def run_id(self) -> str:
        return str(self.body["training"].get("run_id"))

    @property
    def feature_fingerprint(self) -> str:
        """sha256 of the feature section and the observation's feature columns: equal iff same features."""
        payload = {"features": self.body["features"], "columns": list(self.layout.feature_columns)}
        return canonical_digest(payload)


def _risk_from(raw: Any) -> RiskLimits:
    if not isinstance(raw, Mapping):
        raise ArtifactError("manifest risk section is not a mapping")
    known = set(RiskLimits.__dataclass_fields__)
    whole = {f.name for f in fields(RiskLimits) if f.type in (int, "int")}  # stop_atr_period
    values: dict[str, Any] = {
        k: (int(v) if k in whole else math.inf if v is None or v == "inf" else float(v))
        for k, v in raw.items()
        if k in known
    }
    try:
        return RiskLimits(**values).validate()
    except (TypeError, ValueError) as exc:
        raise ArtifactError(f"manifest risk section: {exc}") from None


def _layout_from(raw: Any) -> ObservationLayout:
    if not isinstance(raw, Mapping):
        raise ArtifactError("manifest observation section is not a mapping")
    try:
        layout = ObservationLayout(
            window=int(raw["window"]),
            feature_columns=tuple(str(c) for c in raw["feature_columns"]),
            kind=str(raw.get("kind", "box")),
            account_fields=tuple(str(c) for c in raw["account_fields"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"manifest observation section: bad or missing value ({exc})") from None
    if layout.window < 1 or not layout.feature_columns:
        raise ArtifactError("manifest observation: window must be >= 1 with at least one feature column")
    if int(raw.get("flat_size", layout.size)) != layout.size:
        raise ArtifactError(f"manifest observation: flat_size {raw.get('flat_size')} != {layout.size}")
    return layout


def parse_manifest(body: Any, where: str = MANIFEST_FILE) -> Manifest:
    """Check the format and the sections' types; return the typed manifest (``ArtifactError`` if not)."""
    if not isinstance(body, dict):
        raise ArtifactError(f"{where}: not a JSON object")
    if body.get("format") != FORMAT or body.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(
            f"{where}: format {body.get('format')!r} v{body.get('format_version')!r} is not "
            f"{FORMAT} v{FORMAT_VERSION}"
        )
    for section in ("policy", "observation", "features", "action", "market", "risk", "training", "files"):
        if not isinstance(body.get(section), dict):
            raise ArtifactError(f"{where}: missing section {section!r}")
    market = body["market"]
    if not isinstance(market.get("symbol"), str) or not isinstance(market.get("interval"), str):
        raise ArtifactError(f"{where}: market.symbol and market.interval must be strings")
    return Manifest(
        body=body,
        symbol=market["symbol"],
        interval=market["interval"],
        layout=_layout_from(body["observation"]),
        action=ActionSpec.from_dict(body["action"]),
        risk=_risk_from(body["risk"]),
    )


def read_manifest(directory: Path) -> Manifest:
    """Read ``manifest.json``, check its own digest and every file's sha256 (nothing unlisted may lie there).

    :raises ArtifactError: one line naming the first problem (missing, not JSON, edited, extra file).
    """
    path = directory / MANIFEST_FILE
    if not directory.is_dir():
        raise ArtifactError(f"artifact {directory}: not a directory")
    try:
        body = json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactError(f"artifact {directory}: no {MANIFEST_FILE} (not a frozen policy)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"artifact {directory}: {MANIFEST_FILE} is unreadable ({exc})") from None
    if not isinstance(body, dict) or body.get("manifest_sha256") != canonical_digest(body):
        raise ArtifactError(f"artifact {directory}: {MANIFEST_FILE} was edited (its sha256 does not match)")
    manifest = parse_manifest(body, f"artifact {directory}")
    listed: dict[str, str] = body["files"]
    present = _files_under(directory)
    for rel, digest in listed.items():
        if rel not in present:
            raise ArtifactError(f"artifact {directory}: file {rel} is missing")
        if present[rel] != digest:
            raise ArtifactError(
                f"artifact {directory}: {rel} was modified (sha256 does not match the manifest)"
            )
    extra = sorted(set(present) - set(listed))
    if extra:
        raise ArtifactError(f"artifact {directory}: unlisted file {extra[0]} (not written by asterrl export)")
    if NETWORK_FILE not in listed:
        raise ArtifactError(f"artifact {directory}: the manifest lists no {NETWORK_FILE}")
    return manifest


def write_artifact(
    target: Path, write_network: Any, body: dict[str, Any], copies: Mapping[str, Path] | None = None
) -> Path:
    """Write an artifact directory atomically: a hidden staging sibling filled, hashed, then renamed.

    :param target: the artifact directory to create (must not exist, or be empty).
    :param write_network: callable taking the path of ``policy.pt2`` and writing the network there.
    :param body: every manifest section but ``files`` and ``manifest_sha256``.
    :param copies: ``{name: source directory}`` copied into the artifact (e.g. forecast models).
    :returns: ``target``.
    """
    target = target.expanduser().resolve()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ArtifactError(f"export target {target} exists and is not empty: choose another out=")
    with atomic_directory(target) as staging:
        write_network(staging / NETWORK_FILE)
        for name, source in (copies or {}).items():
            shutil.copytree(source, staging / name)
        full = jsonable({**body, "format": FORMAT, "format_version": FORMAT_VERSION})
        full["files"] = _files_under(staging)
        full["manifest_sha256"] = canonical_digest(full)
        parse_manifest(full, f"export {target}")  # what the loader will demand, checked before it lands
        atomic_write_json(staging / MANIFEST_FILE, full, sort_keys=True)
    return target
