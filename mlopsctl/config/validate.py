"""Schema validation: pydantic errors turned into positioned diagnostics with suggestions."""

from __future__ import annotations

import functools
import types
import typing
from dataclasses import replace
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from mlopsctl.config.diagnostics import Diagnostic, did_you_mean, quoted
from mlopsctl.config.fixes import POLICY_ID_FORM, constraint_hint, type_hint
from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.resolve import own_errors
from mlopsctl.config.sourcemap import Path, SourceMap, format_path
from mlopsctl.config.wording import one_of

_TYPE_ERRORS = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping",
    "list_type": "a list",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}
_CUSTOM_CODES = {"duration": "E306", "cron": "E305", "timezone": "E305"}


def validate_model(data: dict[str, Any], sources: SourceMap) -> tuple[MLOpsConfig | None, list[Diagnostic]]:
    """Validate one document against the models; diagnostics carry positions."""
    try:
        return MLOpsConfig.model_validate(data), []
    except ValidationError as exc:
        errors = own_errors(exc.errors(include_url=False), data)
        return None, _merge_type_errors([d for err in errors for d in _diagnostics(err, data, sources)])


def _diagnostics(err: ErrorDetails, data: dict[str, Any], sources: SourceMap) -> list[Diagnostic]:
    """The diagnostics of one pydantic error: one per problem of a whole-object check
    (:func:`mlopsctl.config.models.types.problems`)."""
    if err["type"] != "problems":
        return [_diagnostic(err, data, sources)]
    path, _ = _data_path(tuple(err["loc"]), data)
    found: tuple[tuple[str, str], ...] = (err.get("ctx") or {}).get("problems", ())
    return [
        Diagnostic(
            "E205",
            f"invalid {format_path(path)}: {message}",
            path=_named_field(path, message, data),
            hint=hint,
        ).located(sources)
        for message, hint in found
    ]


def _merge_type_errors(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """One E202 per value: a value that fits none of a union's types is one mistake, not one per type;
    and none where a type of the union took the value but a constraint of it did not (``.nan`` for a
    number): that error says what is wrong."""
    wanted: dict[Path, dict[str, None]] = {}
    firsts: dict[Path, Diagnostic] = {}
    others = []
    constrained = {d.path for d in diagnostics if d.code == "E205"}
    for d in diagnostics:
        if d.code == "E202" and d.path in constrained:
            continue
        if d.code != "E202":
            others.append(d)
            continue
        kind, _, shown = d.message.removeprefix(f"{format_path(d.path)} must be ").rpartition(", not ")
        wanted.setdefault(d.path, {})[kind] = None
        firsts.setdefault(d.path, replace(d, message=shown))
    for path, first in firsts.items():
        kinds = list(wanted[path])
        either = one_of(kinds)
        message = f"{format_path(path)} must be {either}, not {first.message}"
        others.append(replace(first, message=message, hint=first.hint or type_hint(kinds, first.message)))
    return others


def _diagnostic(err: ErrorDetails, data: dict[str, Any], sources: SourceMap) -> Diagnostic:
    loc = tuple(err["loc"])
    path, on_key = _data_path(loc, data)
    kind = err["type"]
    if kind == "union_tag_invalid":
        path = (*path, str(err.get("ctx", {}).get("discriminator", "type")).strip("'"))
    where = format_path(path)
    hint: str | None
    value = err.get("input")
    if on_key:
        code, message, hint = (
            "E205",
            f"invalid name '{path[-1]}' {_within(path[:-1])}",
            _key_rule(path[:-1]),
        )
    elif kind == "missing":
        code, message, hint = (
            "E201",
            f"missing required field '{path[-1]}' {_within(path[:-1])}",
            f"add '{path[-1]}: ...'",
        )
    elif kind == "extra_forbidden":
        code, message = "E203", f"unknown key '{path[-1]}' {_within(path[:-1])}"
        hint = _misplaced(path) or _suggest_key(str(path[-1]), _allowed_keys(loc[:-1]))
    elif kind == "literal_error" and path in (("apiVersion",), ("kind",)):
        code, message = "E206", f"unsupported {where} '{value}'"
        hint = f"use {where}: {'mlopsctl.dev/v1alpha1' if path == ('apiVersion',) else 'MLOpsProject'}"
    elif kind in ("literal_error", "enum", "union_tag_invalid"):
        choices = _choices(err, loc)
        code, message = "E204", f"invalid value {_show(_tag_value(err, value))} for {where}"
        hint = did_you_mean(str(_tag_value(err, value)), choices) or f"use one of: {', '.join(choices)}"
    elif kind == "union_tag_not_found":
        field = str(err.get("ctx", {}).get("discriminator", "type")).strip("'")
        code, message, hint = "E201", f"missing required field '{field}' in {where}", f"add '{field}: ...'"
    elif kind in _TYPE_ERRORS:
        code, message, hint = "E202", f"{where} must be {_TYPE_ERRORS[kind]}, not {_show(value)}", None
        if type(value) in (int, float) and _is_duration(loc):
            hint = f"write it with its unit, e.g. '{value}s' or '{value}m' (s, m, h or d)"
    elif kind == "string_pattern_mismatch" and str((err.get("ctx") or {}).get("pattern")) in _pattern_help():
        form = _pattern_help()[str((err.get("ctx") or {}).get("pattern"))]
        code, message, hint = "E205", f"invalid {where}: {_show(value)} is not {form}", None
    elif kind in _CUSTOM_CODES:
        code, message, hint = (
            _CUSTOM_CODES[kind],
            f"{where}: {err['msg']}",
            (err.get("ctx") or {}).get("hint"),
        )
    elif kind == "too_short" and (err.get("ctx") or {}).get("actual_length") == 0:
        code, message = "E205", f"{where} is empty (or an overlay removed all it held)"
        hint = constraint_hint(kind, dict(err.get("ctx") or {}))
    else:
        code, message = "E205", f"invalid {where}: {_lower(err['msg'])}"
        hint = constraint_hint(kind, dict(err.get("ctx") or {}))
        if kind == "value_error":
            path = _named_field(path, err["msg"], data)
    return Diagnostic(code, message, path=path, hint=hint).located(
        sources, key=on_key or kind == "extra_forbidden"
    )


def _named_field(path: Path, message: str, data: Any) -> Path:
    """A whole-object check's error, pointed at the first field its message names (if written).

    ``minReplicas (9) is greater than maxReplicas (8)`` then points at the minReplicas the user
    wrote, which may come from an overlay, rather than at the object's first line.
    """
    node = data
    for part in path:
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int):
            node = node[part]
    if not isinstance(node, dict):
        return path
    named = [(message.find(f"'{k}'") if f"'{k}'" in message else message.find(f"{k} "), k) for k in node]
    found = sorted((i, k) for i, k in named if i >= 0)
    return (*path, found[0][1]) if found else path


def _lower(text: str) -> str:
    text = text.removeprefix("Value error, ")
    return text[:1].lower() + text[1:]


@functools.cache
def _pattern_help() -> dict[str, str]:
    """What the string types of the language look like, in words, keyed by their pattern."""
    from mlopsctl.config.models import types
    from mlopsctl.config.models.compute import MachineType
    from mlopsctl.config.models.data import ColumnName, TableName
    from mlopsctl.config.models.pipelines import CpuQuantity, EnvVar, MemoryQuantity, OutputRef
    from mlopsctl.config.models.registry import VersionName
    from mlopsctl.config.models.security import Cidr, KeyId, Role

    described = {
        types.Name: "a name: lowercase letters, digits and '-', starting with a letter",
        types.EnvName: "an environment name: lowercase letters and digits, starting with a letter",
        types.RegionName: "a region name such as 'us-central1'",
        types.ZoneName: "a zone name such as 'us-central1-a'",
        types.GcpProjectId: "a GCP project id: 6-30 lowercase letters, digits and '-'",
        types.Quantity: "a quantity such as '500m', '2' or '4Gi'",
        types.GcsUri: "a gs://bucket/path URI",
        types.LabelKey: "a label key: lowercase letters, digits, '-' and '_', starting with a letter",
        types.LabelValue: "a label value: at most 63 lowercase letters, digits, '-' and '_'",
        types.SecretRef: "a Secret Manager reference: a secret id or projects/P/secrets/S[/versions/V]",
        types.Image: "a container image reference such as 'us-docker.pkg.dev/p/repo/image:1.0'",
        OutputRef: "a reference to a step output: <step>.<output>",
        CpuQuantity: "a CPU amount such as '2', '0.5' or '500m'",
        MemoryQuantity: "a memory amount in whole units such as '512Mi', '4Gi' or '1000M'",
        types.IoName: "a name: lowercase letters, digits and '_', starting with a letter",
        EnvVar: "an environment variable name: letters, digits and '_', not starting with a digit",
        MachineType: "a machine type such as 'g2-standard-8'",
        VersionName: "a version: letters, digits, '-', '_' and '.'",
        Cidr: "an IPv4 CIDR block such as '10.0.0.0/8'",
        Role: "an IAM role such as 'roles/storage.objectViewer'",
        KeyId: "a KMS key id: projects/P/locations/L/keyRings/R/cryptoKeys/K",
        ColumnName: "a column name: letters, digits and '_', not starting with a digit",
        TableName: "a table name: letters, digits and '_'",
    }
    return {_pattern(tp): text for tp, text in described.items()}


def _pattern(annotated: Any) -> str:
    for meta in typing.get_args(annotated)[1:]:
        pattern = getattr(meta, "pattern", None)
        if pattern is not None:
            return str(pattern)
    raise ValueError(f"{annotated} has no pattern")


def _within(path: Path) -> str:
    return f"in {format_path(path)}" if path else "at the top level"


def _suggest_key(key: str, allowed: list[str]) -> str | None:
    return did_you_mean(key, allowed) or (f"allowed keys: {', '.join(sorted(allowed))}" if allowed else None)


_ENVIRONMENT_KEYS = frozenset(
    {"gcpProject", "regions", "labels", "promotion", "overrides", "regionOverrides"}
)


def _misplaced(path: Path) -> str | None:
    """A hint for keys that belong to an environment but were written elsewhere."""
    key = path[-1]
    if len(path) == 1 and key in ("overrides", "regionOverrides"):
        return f"'{key}' belongs to an environment: move it under environments.<env>"
    overlay = len(path) >= 4 and path[0] == "environments" and path[2] in ("overrides", "regionOverrides")
    if overlay and key in _ENVIRONMENT_KEYS:
        return f"'{key}' is a setting of the environment itself: move it up to environments.{path[1]}"
    return None


def _key_rule(parent: Path) -> str:
    """What a mapping key at ``parent`` must look like, in words."""
    if parent == ("environments",):
        return "environment names are lowercase letters and digits, starting with a letter, at most 12 long"
    if parent == ("policies", "levels"):
        return POLICY_ID_FORM
    if parent and parent[-1] in ("inputs", "outputs", "parameters", "thresholds", "searchSpace"):
        return "these names are lowercase letters, digits and '_', starting with a letter"
    if parent and parent[-1] in ("env", "secrets"):
        return "environment variable names are letters, digits and '_', not starting with a digit"
    if parent and parent[-1] in ("labels", "regionOverrides"):
        what = "label keys" if parent[-1] == "labels" else "region names"
        return f"{what} are lowercase letters, digits, '-' (and '_' for labels), starting with a letter"
    return "names are lowercase letters, digits and '-', starting with a letter, at most 40 long"


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return (
        quoted(value)
        if isinstance(value, str)
        else str(value).lower()
        if isinstance(value, bool)
        else str(value)
    )


def _tag_value(err: ErrorDetails, value: Any) -> Any:
    ctx = err.get("ctx") or {}
    return ctx.get("tag", value)


def _data_path(loc: tuple[Any, ...], data: Any) -> tuple[Path, bool]:
    """The path in the document that a pydantic ``loc`` points at, skipping union tags.

    Returns the path and whether the error is about a mapping key rather than a value.
    """
    path: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if part == "[key]":
            return tuple(path), True
        if _is_union_tag(loc[:i], part):
            continue  # a rollout's tag 'shadow' is also one of its keys: never read the tag as data
        in_dict = isinstance(node, dict) and part in node
        if in_dict or (isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)):
            node = node[part]
            path.append(part)
        elif isinstance(node, dict) and (last or (i + 1 < len(loc) and loc[i + 1] == "[key]")):
            path.append(part)  # a key that is missing (or whose name is wrong)
            node = None
    return tuple(path), False


def _is_union_tag(prefix: tuple[Any, ...], part: Any) -> bool:
    """Whether ``part`` of a ``loc`` is the tag that selected a union member, not a key of the data."""
    tp = model_at(prefix)
    if typing.get_origin(tp) not in (typing.Union, types.UnionType):
        return False
    members = typing.get_args(tp)
    # a member of plain type is labelled by its type's name ('str', 'int'; 'list[str]', ...)
    plain = {getattr(_unwrap(m), "__name__", None) for m in members}
    return part in plain or any(_is_tagged(member, part) for member in members)


def _unwrap(tp: Any) -> Any:
    """Strip Annotated and Optional wrappers."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(members) != 1:
                return tp
            tp = members[0]
        else:
            return tp


def _field_type(model: type[BaseModel], key: Any) -> Any:
    for name, field in model.model_fields.items():
        if key in (field.alias, name):
            return field.annotation
    return None


def _is_duration(loc: tuple[Any, ...]) -> bool:
    """Whether ``loc`` names a duration field (whose annotation ``model_at`` unwraps to ``str``)."""
    from mlopsctl.config.models.types import Duration

    parent = model_at(loc[:-1]) if loc else None
    if not (isinstance(parent, type) and issubclass(parent, BaseModel)):
        return False
    annotation = _field_type(parent, loc[-1])
    return annotation is Duration or Duration in typing.get_args(annotation)


def model_at(loc: tuple[Any, ...]) -> Any:
    """The annotation a ``loc`` leads to in the models (union tags select the member)."""
    tp: Any = MLOpsConfig
    for part in loc:
        tp = _unwrap(tp)
        origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            tp = _field_type(tp, part)
        elif origin is dict:
            tp = typing.get_args(tp)[1]
        elif origin is list:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            tp = next((m for m in typing.get_args(tp) if _is_tagged(m, part)), None)
        else:
            return None
        if tp is None:
            return None
    return _unwrap(tp)


def _is_tagged(member: Any, tag: Any) -> bool:
    member = _unwrap(member)
    if not (isinstance(member, type) and issubclass(member, BaseModel)):
        return False
    return any(
        typing.get_origin(f.annotation) is Literal and tag in typing.get_args(f.annotation)
        for f in member.model_fields.values()
    )


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    model = model_at(loc)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [f.alias or n for n, f in model.model_fields.items()]
    return []


def _choices(err: ErrorDetails, loc: tuple[Any, ...]) -> list[str]:
    ctx = err.get("ctx") or {}
    if "expected_tags" in ctx:
        return [t.strip().strip("'") for t in str(ctx["expected_tags"]).split(",")]
    tp = model_at(loc)
    if typing.get_origin(tp) is Literal:
        return [str(a) for a in typing.get_args(tp)]
    return [
        c.strip().strip("'")
        for c in str(ctx.get("expected", "")).replace(" or ", ", ").split(",")
        if c.strip()
    ]
