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
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError

from mlopsctl.config.sourcemap import format_path
from mlopsctl.config.target import Target
from mlopsctl.graph import JSON, canonical_json
from mlopsctl.io.yamlio import dump_json
from mlopsctl.plan.diff import Action, Plan
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
    """The saved plan in ``text`` (the file ``where``), its whole document checked against the
    shape ``plan --out`` writes first, so that a hand-edited one is refused naming what is wrong."""
    try:
        doc = json.loads(text)
    except RecursionError:
        raise _not_saved(where, "its JSON is nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise _not_saved(where, f"not JSON: {exc}") from None
    except ValueError:  # an integer too long to convert
        raise _not_saved(where, "it holds a number of thousands of digits") from None
    if not isinstance(doc, dict):
        raise _not_saved(where, f"expected an object, got {_shown(doc)}")
    if doc.get("format_version") != FORMAT_VERSION:
        raise _not_saved(where, f"not a saved plan of format {FORMAT_VERSION}")
    try:
        shape = _SavedShape.model_validate(doc)
    except ValidationError as exc:
        raise _not_saved(where, _problem(exc)) from None
    except RecursionError:
        raise _not_saved(where, "its JSON is nested too deeply") from None
    inv = shape.invocation
    invocation = Invocation(
        inv.config, inv.ref, tuple(inv.envs), tuple(inv.regions), inv.target, dict(inv.options)
    )
    basis = Basis(shape.source_commit, dict(shape.config_hashes), dict(shape.state_hashes))
    return SavedPlan(invocation, basis, doc["plan"])


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


class _Shape(BaseModel):
    """A part of a saved plan exactly as ``plan --out`` writes it: no other keys, no conversions."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _InvocationShape(_Shape):
    config: str
    ref: str | None
    envs: list[str]
    regions: list[str]
    target: str | None
    options: dict[str, str]


class _ImportingShape(_Shape):
    id: str


class _ChangeShape(_Shape):
    actions: list[Annotated[Action, Strict(False)]]
    before: JSON
    after: JSON
    replace_paths: list[str]
    importing: _ImportingShape | None = None


class _ResourceChangeShape(_Shape):
    address: str
    type: str
    name: str
    env: str
    region: str
    change: _ChangeShape
    protect: bool
    source: str | None


class _SummaryShape(_Shape):
    add: int
    change: int
    destroy: int
    imports: int | None = Field(default=None, alias="import")


class _PlanShape(_Shape):
    """What :func:`mlopsctl.plan.document.plan_document` returns."""

    format_version: Literal["1.0"]
    project: str
    resource_changes: list[_ResourceChangeShape]
    summary: _SummaryShape


class _SavedShape(_Shape):
    """What :func:`dump_saved_plan` writes."""

    format_version: Literal["1.0"]
    invocation: _InvocationShape
    source_commit: str | None
    config_hashes: dict[str, str]
    state_hashes: dict[str, str]
    plan: _PlanShape


_KINDS = {
    "string_type": "a string",
    "int_type": "an integer",
    "bool_type": "true or false",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "list_type": "a list",
}


def _problem(exc: ValidationError) -> str:
    """The first thing wrong in a saved plan's document, e.g. ``plan.resource_changes[3]: expected
    an object, got string 'x'``, and how many more there are."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    where = format_path(tuple(first["loc"]))
    if first["type"] == "missing":
        text = f"missing '{where}'"
    elif first["type"] == "extra_forbidden":
        text = f"unexpected key '{where}'"
    else:
        expected = _KINDS.get(first["type"]) or first["msg"].removeprefix("Input should be ")
        text = f"{where}: expected {expected}, got {_shown(first['input'])}"
    more = len(errors) - 1
    return text + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else "")


def _shown(value: object) -> str:
    """A JSON value as an error names it: ``object``, ``list``, ``null``, ``string 'x'``, ``integer 1``."""
    if value is None:
        return "null"
    if isinstance(value, dict | list):
        return "object" if isinstance(value, dict) else "list"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"string {value[:40]!r}" + ("..." if len(value) > 40 else "")
    return f"{'integer' if isinstance(value, int) else 'number'} {value}"


def _not_saved(where: str, detail: str) -> SavedPlanError:
    return SavedPlanError(
        f"{where} is not a plan saved by 'mlopsctl plan --out': {detail}; "
        "save the plan again with 'mlopsctl plan --out FILE'"
    )
