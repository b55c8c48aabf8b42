"""Resolve environment and region overlays into one document per target.

For each environment and each of its regions, the base document is merged
with ``environments.<env>.overrides`` and then with
``environments.<env>.regionOverrides.<region>``:

- mappings merge key by key, recursively, except that an overlay which switches a node pool
  (``type``), a monitor (``type``) or a rollout (``strategy``) to a kind with other fields
  replaces it whole: the old kind's fields would not fit the new one (Kubernetes' ``retainKeys``
  does the same for a Deployment's ``strategy``);
- any other value (lists included) replaces what was there;
- ``null`` removes the key (a ``null`` for a key that is not there removes nothing: W304).

Then the pins of the target's entry in ``mlops.lock`` (if any) replace the values
they name (see ``mlopsctl.config.pins``): the lock is the last overlay.

Afterwards ``${project}``, ``${env}``, ``${region}`` and ``${gcpProject}`` are
expanded in every string (``$${`` is a literal ``${``). Positions follow the
values: a value taken from an overlay points at the overlay's line. A string that
holds a variable whose value is missing or invalid is an :class:`Unresolved`: the
schema reports that value once, where it is written, and not again in every string
that uses it.
"""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass
from typing import Any, get_args

from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from mlopsctl.config.diagnostics import Diagnostic, Severity, did_you_mean
from mlopsctl.config.load import Document
from mlopsctl.config.lock import LockEntry
from mlopsctl.config.models.compute import NodePool
from mlopsctl.config.models.monitoring import Monitor
from mlopsctl.config.models.root import MLOpsConfig, Overlay
from mlopsctl.config.models.serving import Rollout
from mlopsctl.config.models.types import EnvName, GcpProjectId, Name, RegionName
from mlopsctl.config.pins import apply_pins
from mlopsctl.config.sourcemap import Path, SourceMap, format_path
from mlopsctl.config.target import Target

OVERLAY_SECTIONS = frozenset(f.alias or n for n, f in Overlay.model_fields.items())
_VARIABLE = re.compile(r"\$(\$?)\{([^}]*)\}")
VARIABLES = ("project", "env", "region", "gcpProject")
KNOWN = ", ".join("${" + v + "}" for v in VARIABLES)
_FORMS: dict[str, Any] = {"project": Name, "env": EnvName, "region": RegionName, "gcpProject": GcpProjectId}
_STAND_INS = {"project": "project", "env": "env", "region": "us-central1", "gcpProject": "gcp-project"}
"""A valid value of each variable, put in place of a missing or invalid one."""


class Unresolved(str):
    """A string that holds a variable whose value is missing or invalid, as expanded (the variable
    left as written when its value is missing); ``stand_in`` is the string with valid values for
    those variables instead, which tells what else is wrong with it."""

    stand_in: str


def own_errors(errors: list[ErrorDetails], data: dict[str, Any]) -> list[ErrorDetails]:
    """The schema ``errors`` of the resolved ``data`` without those of strings that fail only for a
    variable whose value is missing or invalid (``gs://${project}-…`` of a bad project name): that
    value's own error says what to fix, where it is written."""
    if not any(isinstance(err.get("input"), Unresolved) for err in errors):
        return errors
    try:
        MLOpsConfig.model_validate(_stand_ins(data))
        still: set[tuple[Any, ...]] = set()
    except ValidationError as exc:
        still = {tuple(err["loc"]) for err in exc.errors(include_url=False)}
    own = [e for e in errors if not isinstance(e.get("input"), Unresolved) or tuple(e["loc"]) in still]
    return own or errors  # what else fails was cut (a partial document): these errors explain the failure


def _stand_ins(value: Any) -> Any:
    """``value`` with each :class:`Unresolved` string in it replaced by its ``stand_in``."""
    if isinstance(value, dict):
        return {k: _stand_ins(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stand_ins(v) for v in value]
    return value.stand_in if isinstance(value, Unresolved) else value


@functools.cache
def _adapter(name: str) -> TypeAdapter[str]:
    return TypeAdapter(_FORMS[name])


def valid_value(name: str, value: object) -> bool:
    """Whether ``value`` of variable ``name`` is a string of the form the schema requires there."""
    try:
        _adapter(name).validate_python(value, strict=True)
    except ValidationError:
        return False
    return True


def _kinds(union: Any) -> tuple[str, dict[str, type]]:
    """The discriminating key of an annotated union of models, and the model each of its values picks."""
    members, field = get_args(union)
    key = str(field.discriminator)
    return key, {
        tag: model for model in get_args(members) for tag in get_args(model.model_fields[key].annotation)
    }


UNIONS: dict[Path, tuple[str, dict[str, type]]] = {
    ("accelerators", "*"): _kinds(NodePool),
    ("monitors", "*"): _kinds(Monitor),
    ("endpoints", "*", "rollout"): _kinds(Rollout),
}
"""Where the config holds one of several kinds of mapping, told apart by one key (``*``: any name)."""


def _switches_kind(path: Path, old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether ``new``, merged at ``path`` over ``old``, makes it another kind of mapping."""
    for pattern, (key, kinds) in UNIONS.items():
        if len(pattern) == len(path) and all(p in ("*", part) for p, part in zip(pattern, path, strict=True)):
            return key in new and kinds.get(str(new[key])) is not kinds.get(str(old.get(key)))
    return False


@dataclass(frozen=True)
class ResolvedTarget:
    """The document as it applies to one environment in one region."""

    target: Target
    data: dict[str, Any]
    sources: SourceMap


def targets_of(doc: Document) -> list[Target]:
    """Every (environment, region) the document declares, in declaration order."""
    environments = doc.data.get("environments")
    if not isinstance(environments, dict):
        return []
    found = []
    for env, spec in environments.items():
        regions = spec.get("regions") if isinstance(spec, dict) else None
        if isinstance(regions, list):
            found += [Target(env, r) for r in dict.fromkeys(r for r in regions if isinstance(r, str))]
    return found


def overlaid(
    doc: Document, target: Target, pins: LockEntry | None = None
) -> tuple[dict[str, Any], SourceMap, list[Diagnostic]]:
    """The document for ``target`` with overlays and lock pins applied, variables not yet expanded."""
    data = copy.deepcopy(doc.data)
    sources = doc.sources.copy()
    diagnostics: list[Diagnostic] = []
    for overlay_path in (
        ("environments", target.env, "overrides"),
        ("environments", target.env, "regionOverrides", target.region),
    ):
        overlay = _get(doc.data, overlay_path)
        if isinstance(overlay, dict):
            overlay = _without_project_name(overlay, overlay_path, diagnostics)
            # Other keys, and sections that are not mappings, are errors of the overlay itself, reported
            # where written; merged, they would be reported again as errors of each of its targets.
            sections = {
                k: v
                for k, v in overlay.items()
                if k in OVERLAY_SECTIONS and (v is None or isinstance(v, dict))
            }
            _merge(data, sections, (), overlay_path, sources, doc.sources, diagnostics)
    if pins is not None:
        diagnostics += apply_pins(data, sources, pins)
    return data, sources, diagnostics


def resolve(
    doc: Document, target: Target, pins: LockEntry | None = None
) -> tuple[ResolvedTarget, list[Diagnostic]]:
    """The document for ``target``: overlays and pins merged, variables expanded."""
    data, sources, diagnostics = overlaid(doc, target, pins)
    env_spec = data["environments"][target.env]
    project = data.get("project", {}).get("name") if isinstance(data.get("project"), dict) else None
    values = {
        "project": project,
        "env": target.env,
        "region": target.region,
        "gcpProject": env_spec.get("gcpProject"),
    }
    data = _expand(data, (), {k: v for k, v in values.items() if valid_value(k, v)}, values, diagnostics)
    return ResolvedTarget(target, data, sources), diagnostics


def _without_project_name(
    overlay: dict[str, Any], path: Path, diagnostics: list[Diagnostic]
) -> dict[str, Any]:
    """The project's name is its identity in state and in every generated name: not per target."""
    project = overlay.get("project")
    if not isinstance(project, dict) or "name" not in project:
        return overlay
    diagnostics.append(
        Diagnostic(
            "E205",
            "project.name cannot be overridden per environment or region",
            path=(*path, "project", "name"),
            hint="remove it from the overlay; use project.namespace or labels to tell environments apart",
        )
    )
    return {**overlay, "project": {k: v for k, v in project.items() if k != "name"}}


def _get(data: Any, path: Path) -> Any:
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def _merge(
    dst: dict[str, Any],
    src: dict[str, Any],
    dst_path: Path,
    src_path: Path,
    sources: SourceMap,
    origin: SourceMap,
    diagnostics: list[Diagnostic],
) -> None:
    for key, value in src.items():
        here, there = (*dst_path, key), (*src_path, key)
        if value is None:
            if key not in dst:
                diagnostics.append(_removes_nothing(here, there, list(dst)))
            dst.pop(key, None)
            sources.drop(here)
        elif (
            isinstance(value, dict)
            and isinstance(dst.get(key), dict)
            and not _switches_kind(here, dst[key], value)
        ):
            _merge(dst[key], value, here, there, sources, origin, diagnostics)
        elif isinstance(value, dict):
            if isinstance(dst.get(key), dict):
                # Another kind replaces the mapping whole: nulls of the old kind's keys say nothing.
                value = {k: v for k, v in value.items() if v is not None or k not in dst[key]}
            dst[key] = {}
            sources.graft(origin, there, here)
            _merge(dst[key], value, here, there, sources, origin, diagnostics)
        else:
            dst[key] = copy.deepcopy(value)
            sources.graft(origin, there, here)


def _removes_nothing(here: Path, there: Path, present: list[str]) -> Diagnostic:
    """W304: an overlay's ``null`` for a key the document does not have (a misspelt name, most often)."""
    return Diagnostic(
        "W304",
        f"'{here[-1]}: null' removes nothing: there is no {format_path(here)} to remove",
        path=there,
        hint=did_you_mean(str(here[-1]), present)
        or "remove the line, or name what the overlay should remove",
        severity=Severity.WARNING,
    )


def _expand(
    value: Any, path: Path, valid: dict[str, str], given: dict[str, Any], diagnostics: list[Diagnostic]
) -> Any:
    """``value`` with the variables expanded: to their ``valid`` values, else to the ``given`` string
    (or not at all), the string then :class:`Unresolved`."""
    if isinstance(value, dict):
        return {k: _expand(v, (*path, k), valid, given, diagnostics) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, (*path, i), valid, given, diagnostics) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value or path == ("project", "name"):
        return value  # the project's name is its identity in every target: never per-target
    unresolved = False

    def substitute(match: re.Match[str]) -> str:
        nonlocal unresolved
        escaped, name = match.groups()
        if escaped:
            return "${" + name + "}"
        if name in VARIABLES and name not in valid:
            unresolved = True  # its value is missing or invalid: the schema reports that once
            return given[name] if isinstance(given.get(name), str) else match.group(0)
        if name not in valid:
            diagnostics.append(
                Diagnostic(
                    "E204",
                    f"unknown variable '${{{name}}}'",
                    path=path,
                    hint=f"use one of {KNOWN}, or write $${{ for a literal",
                )
            )
            return match.group(0)
        return valid[name]

    expanded = _VARIABLE.sub(substitute, value)
    if not unresolved:
        return expanded
    result = Unresolved(expanded)
    result.stand_in = _expand(value, path, {**_STAND_INS, **valid}, given, [])
    return result
