"""Custom policies: functions registered under the ``mlopsctl.policies`` entry point group.

The entry point's name is the policy's id; its object is a policy function, loaded when
the policy first runs, so that a module that fails to import is reported as a finding of
that policy instead of stopping ``check``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from importlib.metadata import EntryPoint, entry_points

from mlopsctl.config.diagnostics import POLICY_ID
from mlopsctl.config.policy_catalog import BUILTINS, ENTRY_POINT_GROUP, FRAMEWORK
from mlopsctl.policies import Finding, Policy, PolicyContext, PolicyFunction


def custom_policies() -> list[Policy]:
    found = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: (ep.name, ep.value)):
        origin = f"entry point '{ep.name} = {ep.value}'"
        if ep.name in BUILTINS or not POLICY_ID.match(ep.name):
            problem = "is a built-in policy id" if ep.name in BUILTINS else "is not a valid policy id"
            found.append(
                Policy(FRAMEWORK, *BUILTINS[FRAMEWORK], check=_unusable(origin, problem), origin=origin)
            )
        else:
            found.append(Policy(ep.name, ep.name, f"Custom policy from {origin}.", _loaded(ep), origin))
    return found


def _unusable(origin: str, problem: str) -> PolicyFunction:
    def report(ctx: PolicyContext) -> Iterator[Finding]:
        yield Finding(
            f"the custom policy of {origin} is ignored: its name {problem}",
            hint="name custom policies like ABC123 or team.rule-name, distinct from the built-ins",
        )

    return report


def _loaded(ep: EntryPoint) -> PolicyFunction:
    def run(ctx: PolicyContext) -> Iterable[Finding]:
        fn: PolicyFunction = ep.load()
        return fn(ctx)

    return run
