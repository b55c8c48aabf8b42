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
values: a value taken from an overlay points at the overlay's line.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any, get_args

from mlopsctl.config.diagnostics import Diagnostic, Severity, did_you_mean
from mlopsctl.config.load import Document
from mlopsctl.config.lock import LockEntry
from mlopsctl.config.models.compute import NodePool
from mlopsctl.config.models.monitoring import Monitor
from mlopsctl.config.models.root import Overlay
from mlopsctl.config.models.serving import Rollout
from mlopsctl.config.pins import apply_pins
from mlopsctl.config.sourcemap import Path, SourceMap, format_path
from mlopsctl.config.target import Target

OVERLAY_SECTIONS = frozenset(f.alias or n for n, f in Overlay.model_fields.items())
_VARIABLE = re.compile(r"\$(\$?)\{([^}]*)\}")
VARIABLES = ("project", "env", "region", "gcpProject")
KNOWN = ", ".join("${" + v + "}" for v in VARIABLES)


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
            sections = {k: v for k, v in overlay.items() if k in OVERLAY_SECTIONS}  # others: schema errors
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
    data = _expand(data, (), {k: v for k, v in values.items() if isinstance(v, str)}, diagnostics)
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


def _expand(value: Any, path: Path, values: dict[str, str], diagnostics: list[Diagnostic]) -> Any:
    if isinstance(value, dict):
        return {k: _expand(v, (*path, k), values, diagnostics) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, (*path, i), values, diagnostics) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value or path == ("project", "name"):
        return value  # the project's name is its identity in every target: never per-target

    def substitute(match: re.Match[str]) -> str:
        escaped, name = match.groups()
        if escaped:
            return "${" + name + "}"
        if name in VARIABLES and name not in values:
            return match.group(0)  # its value is missing or invalid: the schema reports that once
        if name not in values:
            diagnostics.append(
                Diagnostic(
                    "E204",
                    f"unknown variable '${{{name}}}'",
                    path=path,
                    hint=f"use one of {KNOWN}, or write $${{ for a literal",
                )
            )
            return match.group(0)
        return values[name]

    return _VARIABLE.sub(substitute, value)
