"""Protected resources the plan would destroy or replace (when ``check`` compares with state)."""

from __future__ import annotations

from collections.abc import Iterator

from mlopsctl.plan import Action, Plan, blocked_by_protection
from mlopsctl.policies import Finding, PolicyContext, policy


@policy("MLP010")
def protected_resources(ctx: PolicyContext) -> Iterator[Finding]:
    if ctx.plan is None:
        return
    for change in blocked_by_protection(Plan(ctx.config.project.name, (ctx.plan,))):
        verb = "replaces" if Action.CREATE in change.actions else "destroys"
        why = f" (changed: {', '.join(change.replace_paths)})" if change.replace_paths else ""
        yield Finding(
            f"the plan {verb} protected {change.type.rsplit(':', 1)[-1]} '{change.name}'{why}",
            hint="data in it would be lost: restore its settings, or waive MLP010 for it with a reason "
            "and apply with --allow-destroy",
            address=change.address,
            path=change.source,
        )
