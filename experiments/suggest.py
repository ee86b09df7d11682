"""The nearest valid name for a typo, for one-line error messages (``did you mean 'agent.lr'?``)."""

from __future__ import annotations

import difflib
from collections.abc import Sequence


def nearest(word: str, candidates: Sequence[str]) -> str | None:
    """The candidate closest to ``word`` (a likely typo of it), or ``None`` when none is close."""
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def nearest_key(key: str, keys: Sequence[str]) -> str | None:
    """The dotted config key a mistyped ``key`` most likely meant: a close sibling (same parent) first,
    else a close key anywhere in the tree."""
    parent, _, leaf = key.rpartition(".")
    siblings = [k.rpartition(".")[2] for k in keys if k.rpartition(".")[0] == parent]
    match = nearest(leaf, siblings)
    if match is not None:
        return f"{parent}.{match}" if parent else match
    matches = difflib.get_close_matches(key, list(keys), n=1, cutoff=0.8)
    return matches[0] if matches else None


def did_you_mean_key(key: str, keys: Sequence[str]) -> str:
    """``"; did you mean 'x.y'?"`` for ``nearest_key``, or an empty string."""
    match = nearest_key(key, keys)
    return f"; did you mean '{match}'?" if match else ""


def did_you_mean(word: str, candidates: Sequence[str]) -> str:
    """``"; did you mean 'x'?"`` for the nearest candidate, or an empty string."""
    match = nearest(word, candidates)
    return f"; did you mean '{match}'?" if match else ""
