"""The policies section names policies and environments that exist."""

from __future__ import annotations

from collections.abc import Iterator

from mlopsctl.config.checks import CheckContext, check
from mlopsctl.config.diagnostics import Diagnostic, did_you_mean
from mlopsctl.config.policy_catalog import BUILTINS, FRAMEWORK, entry_point_names
from mlopsctl.config.sourcemap import Path


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
