"""Saved plans: ``plan --out FILE`` records a plan with everything it was computed from;
``apply --plan FILE`` applies exactly that plan, or refuses it when anything moved since.

A plan is stale when the source commit, the resolved config of a target, or the
state of a target differs from what was recorded, or when the plan computed now
differs from the saved one (which covers a different mlopsctl version).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlopsctl.config.target import Target
from mlopsctl.graph import JSON, canonical_json
from mlopsctl.io.yamlio import dump_json
from mlopsctl.plan.diff import Plan
from mlopsctl.plan.document import plan_document
from mlopsctl.state import State, dump_state

FORMAT_VERSION = "1.0"
STALE = "Saved plan is stale"


class SavedPlanError(Exception):
    """A plan file that cannot be used: unreadable, stale, or for something else."""


@dataclass(frozen=True)
class Invocation:
    """How the plan was made, so that ``apply --plan`` repeats it without other arguments."""

    config: str
    ref: str | None
    envs: tuple[str, ...]
    regions: tuple[str, ...]
    target: str | None
    """The apply target planned against (``gitops``), or None for a plan against empty state."""
    options: Mapping[str, str]
    """The target's options, e.g. ``{"repo": "../deploy"}``."""


@dataclass(frozen=True)
class Basis:
    """What a plan was computed from."""

    source_commit: str | None
    config_hashes: Mapping[str, str]
    state_hashes: Mapping[str, str]


@dataclass(frozen=True)
class SavedPlan:
    invocation: Invocation
    basis: Basis
    plan: JSON


def basis_of(
    source_commit: str | None, config_hashes: Mapping[Target, str], applied: Mapping[Target, State]
) -> Basis:
    return Basis(
        source_commit,
        {str(t): h for t, h in sorted(config_hashes.items(), key=lambda i: str(i[0]))},
        {
            str(t): "sha256:" + hashlib.sha256(dump_state(s).encode()).hexdigest()
            for t, s in sorted(applied.items(), key=lambda i: str(i[0]))
        },
    )


def dump_saved_plan(invocation: Invocation, basis: Basis, plan: Plan) -> str:
    return dump_json(
        {
            "format_version": FORMAT_VERSION,
            "invocation": {
                "config": invocation.config,
                "ref": invocation.ref,
                "envs": list(invocation.envs),
                "regions": list(invocation.regions),
                "target": invocation.target,
                "options": dict(sorted(invocation.options.items())),
            },
            "source_commit": basis.source_commit,
            "config_hashes": dict(basis.config_hashes),
            "state_hashes": dict(basis.state_hashes),
            "plan": plan_document(plan),
        }
    )


def parse_saved_plan(text: str, where: str) -> SavedPlan:
    try:
        doc = json.loads(text)
        if not isinstance(doc, dict) or doc.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"not a saved plan of format {FORMAT_VERSION}")
        inv = doc["invocation"]
        invocation = Invocation(
            config=_str(inv["config"]),
            ref=_optional_str(inv["ref"]),
            envs=tuple(map(_str, inv["envs"])),
            regions=tuple(map(_str, inv["regions"])),
            target=_optional_str(inv["target"]),
            options={_str(k): _str(v) for k, v in inv["options"].items()},
        )
        basis = Basis(
            _optional_str(doc["source_commit"]),
            {_str(k): _str(v) for k, v in doc["config_hashes"].items()},
            {_str(k): _str(v) for k, v in doc["state_hashes"].items()},
        )
        return SavedPlan(invocation, basis, doc["plan"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        raise SavedPlanError(f"{where} is not a plan saved by 'mlopsctl plan --out': {detail}") from None


def check_current(saved: SavedPlan, basis: Basis, plan: Plan) -> None:
    """Raise ``Saved plan is stale`` naming what moved, unless ``basis``/``plan`` match the saved ones."""
    reasons: list[str] = []
    if saved.basis.source_commit != basis.source_commit:
        reasons.append(f"the source commit is {basis.source_commit}, not {saved.basis.source_commit}")
    reasons += _moved("config", saved.basis.config_hashes, basis.config_hashes)
    reasons += _moved("state", saved.basis.state_hashes, basis.state_hashes)
    if not reasons and canonical_json(saved.plan) != canonical_json(plan_document(plan)):
        reasons.append("the plan computed now differs from the saved one")
    if reasons:
        raise SavedPlanError(
            f"{STALE}: " + "; ".join(reasons) + ". Run 'mlopsctl plan --out' again and review the new plan."
        )


def _moved(what: str, saved: Mapping[str, str], now: Mapping[str, str]) -> list[str]:
    changed = sorted(t for t in saved.keys() | now.keys() if saved.get(t) != now.get(t))
    return [f"the {what} of {', '.join(changed)} changed"] if changed else []


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _optional_str(value: Any) -> str | None:
    return None if value is None else _str(value)
