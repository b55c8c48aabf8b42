"""The policies section names policies and environments that exist, and waives places that exist."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator

from mlopsctl.config.checks import CheckContext, check
from mlopsctl.config.diagnostics import Diagnostic, Severity, did_you_mean, plural
from mlopsctl.config.policy_catalog import BUILTINS, FRAMEWORK, entry_point_names
from mlopsctl.config.sourcemap import Path, format_path


def _unknown(code: str, noun: str, name: str, known: list[str], path: Path) -> Diagnostic:
    hint = did_you_mean(name, known) or f"known: {', '.join(known) or 'none'}"
    return Diagnostic(
        code, f"unknown {noun} '{name}' in {'.'.join(map(str, path[:2]))}", path=path, hint=hint
    )


@check
def policy_ids(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Levels and waivers name built-in policies or installed custom ones (entry points)."""
    settings = ctx.config.policies
    named: list[tuple[str, Path]] = [
        (p, ("policies", "levels", p)) for p in settings.levels if p != FRAMEWORK
    ]
    named += [(w.policy, ("policies", "waivers", i, "policy")) for i, w in enumerate(settings.waivers)]
    if all(p in BUILTINS and p != FRAMEWORK for p, _ in named):
        return  # reading the installed entry points is slow: only for ids that are not built in
    known = sorted({*BUILTINS, *entry_point_names()} - {FRAMEWORK})
    for policy_id, path in named:
        if policy_id not in known:
            yield _unknown("E301", "policy", policy_id, known, path)


@check
def policies_off(ctx: CheckContext) -> Iterator[Diagnostic]:
    """W408 for each policy ``levels`` turns off: unlike a waiver, it needs no reason, so say so."""
    for policy_id, level in ctx.config.policies.levels.items():
        if level == "off" and policy_id != FRAMEWORK:
            yield Diagnostic(
                "W408",
                f"policy {policy_id} is off: its findings are dropped in every environment, with no reason "
                "given",
                path=("policies", "levels", policy_id),
                hint="waive the findings you accept instead (policies.waivers: policy, path or resource, "
                "and a reason), or make it a warning",
                severity=Severity.WARNING,
            )


@check
def policy_environments(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Environments named in the policies section exist (the default ``prod`` may be absent)."""
    settings, known = ctx.config.policies, sorted(ctx.config.environments)
    written = settings.production if "production" in settings.model_fields_set else []
    for i, env in enumerate(written):
        if env not in known:
            yield _unknown("E307", "environment", env, known, ("policies", "production", i))
    for env in settings.limits:
        if env not in known:
            yield _unknown("E307", "environment", env, known, ("policies", "limits", env))


def waives_path(prefix: str, path: Path) -> bool:
    """Whether a waiver's ``path`` covers a finding at ``path``: the place itself or anything under it."""
    shown = format_path(path)
    return shown == prefix or shown.startswith((f"{prefix}.", f"{prefix}["))


def _places(value: object, path: Path = ()) -> Iterator[Path]:
    """Every place in a dumped config: mappings, lists and the values in them."""
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _places(child, (*path, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _places(child, (*path, i))


def _nearest(prefix: str, places: list[Path]) -> str:
    """What ``prefix`` could have meant: each unknown key replaced by the closest key at its place
    (while one is close), or else the keys there are."""
    parent = max((p for p in places if p and _under(prefix, p)), key=len, default=())
    shown = format_path(parent) if parent else ""
    rest = prefix[len(shown) :].lstrip(".")
    wrong = re.split(r"[.\[]", rest, maxsplit=1)[0]
    keys = [p[-1] for p in places if len(p) == len(parent) + 1 and p[: len(parent)] == parent]
    named = [k for k in keys if isinstance(k, str)]
    close = difflib.get_close_matches(wrong, named, n=1, cutoff=0.6)
    if close:
        fixed = ".".join(filter(None, (shown, close[0]))) + rest[len(wrong) :]
        if any(waives_path(fixed, p) for p in places):
            return f"did you mean '{fixed}'?"
        further = _nearest(fixed, places)
        return further if further.startswith("did you mean") else f"did you mean '{fixed}'?"
    if named:
        return f"{f'under {shown}' if shown else 'sections'}: {', '.join(named)}"
    return f"{shown} has {plural(len(keys), 'item')}" if keys else f"{shown} is empty"


def _under(prefix: str, place: Path) -> bool:
    shown = format_path(place)
    return prefix.startswith((f"{shown}.", f"{shown}["))


@check
def waiver_paths(ctx: CheckContext) -> Iterator[Diagnostic]:
    """A waiver whose path names no place in the config waives nothing: most likely a typo, or a
    place that was renamed or removed."""
    waivers = [(i, w.policy, w.path) for i, w in enumerate(ctx.config.policies.waivers) if w.path is not None]
    if not waivers:
        return
    places = list(_places(ctx.config.model_dump(by_alias=True)))
    for i, policy, prefix in waivers:
        if not prefix.strip() or not any(waives_path(prefix, p) for p in places):
            yield Diagnostic(
                "W303",
                f"the waiver of {policy} for path '{prefix}' matches no place in the config: "
                "it waives nothing",
                path=("policies", "waivers", i, "path"),
                hint=_nearest(prefix, places) if prefix.strip() else _EMPTY_PATH,
                severity=Severity.WARNING,
            )


_EMPTY_PATH = (
    "name the place of the findings to waive, as 'endpoints.<name>' (that place and what is under it); "
    "to accept every finding of the policy, set its level under policies.levels"
)
