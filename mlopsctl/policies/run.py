"""Run the policies over each target's graph; apply levels and waivers; place findings in mlops.yaml."""

from __future__ import annotations

import datetime
import difflib
import fnmatch
from collections.abc import Mapping
from dataclasses import replace

from mlopsctl.config.checks.policies import waives_path
from mlopsctl.config.diagnostics import Diagnostic, Severity, normalize
from mlopsctl.config.models.policies import Level, Waiver
from mlopsctl.config.policy_catalog import BUILTINS, FRAMEWORK, SECURITY
from mlopsctl.config.project import Validation, with_targets
from mlopsctl.config.sourcemap import SourceMap
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph
from mlopsctl.plan import Plan, TargetPlan
from mlopsctl.policies import Finding, Policy, PolicyContext, builtin_policies
from mlopsctl.policies.plugins import custom_policies
from mlopsctl.policies.protection import protected_resources


def all_policies() -> list[Policy]:
    return [*builtin_policies(), *custom_policies()]


def rules(policies: list[Policy]) -> dict[str, tuple[str, str]]:
    """SARIF rules of the built-in and the given policies: id -> (title, explanation)."""
    return {**BUILTINS, **{p.id: (p.title, p.description) for p in policies}}


def check(
    validation: Validation,
    graphs: Mapping[Target, Graph],
    policies: list[Policy],
    plan: Plan | None = None,
    today: datetime.date | None = None,
) -> list[Diagnostic]:
    """The findings of ``policies`` over every compiled target, after levels and waivers.

    With ``plan``, targets that left the config are checked for protected resources only,
    under the settings of the first target that remains.
    """
    today = today or datetime.date.today()
    changes = {tp.target: tp for tp in plan.targets} if plan else {}
    per_target: dict[Target, list[Diagnostic]] = {}
    for target, graph in graphs.items():
        tc = validation.targets[target]
        ctx = PolicyContext(
            target, graph, tc.config, changes.get(target, TargetPlan(target)) if plan else None
        )
        per_target[target] = evaluate(ctx, policies, tc.sources, today)
    remaining = next(iter(validation.targets.values()))
    gone = [p for p in policies if p.check is protected_resources]
    for target, target_plan in changes.items():
        if target not in graphs:
            ctx = PolicyContext(target, Graph(target, ""), remaining.config, target_plan)
            per_target[target] = evaluate(ctx, gone, remaining.sources, today)
    per_target = _named_targets(per_target)
    return normalize(
        [
            *with_targets(per_target),
            *_unmatched_resource_waivers(validation, graphs, plan),
            *_blanket_resource_waivers(validation, graphs, today),
        ]
    )


def _named_targets(per_target: dict[Target, list[Diagnostic]]) -> dict[Target, list[Diagnostic]]:
    """The findings, each about a resource, whose line (place, id and message) another target's finding
    repeats, with their own target named: ``in prod`` becomes ``in prod/us-central1``, or the target is
    added. The same bucket of each region of ``prod`` is then two findings a reader can tell apart, each
    with its own address (to waive one) and its own SARIF fingerprint."""
    seen: dict[tuple[object, ...], set[Target]] = {}
    for target, found in per_target.items():
        for d in found:
            if d.address:
                seen.setdefault(_line(d), set()).add(target)
    repeated = {line for line, targets in seen.items() if len(targets) > 1}
    return {
        target: [
            replace(d, message=_naming(d.message, target)) if d.address and _line(d) in repeated else d
            for d in found
        ]
        for target, found in per_target.items()
    }


def _line(d: Diagnostic) -> tuple[object, ...]:
    return (d.code, d.severity, d.position, d.message)


def _naming(message: str, target: Target) -> str:
    suffix = f" in {target.env}"
    if message.endswith(suffix):
        return f"{message.removesuffix(suffix)} in {target}"
    return f"{message} (in {target})"


_ADDRESSES = (
    "addresses look like ENV/REGION/TYPE/NAME, e.g. 'prod/*/gcp:storage/bucket:Bucket/raw'; 'mlopsctl plan' "
    "prints them"
)


def _names_target(pattern: str, env: str, region: str) -> bool:
    """Whether a resource pattern may name resources of ``env``/``region``: its first two parts are
    the address's environment and region (a pattern of one part may match anything)."""
    parts = pattern.split("/", 2)
    if len(parts) < 2:
        return True
    return fnmatch.fnmatchcase(env, parts[0]) and fnmatch.fnmatchcase(region, parts[1])


def _unmatched_resource_waivers(
    validation: Validation, graphs: Mapping[Target, Graph], plan: Plan | None
) -> list[Diagnostic]:
    """A waiver whose resource pattern matches no address of any target (nor of the plan's) waives
    nothing: most likely a typo in the address, or a resource renamed or removed."""
    addresses = sorted({a for g in graphs.values() for a in g.resources})
    if plan is not None:
        addresses += [c.address for tp in plan.targets for c in tp.changes]
    checked = {(t.env, t.region) for t in graphs}
    found = []
    for tc in validation.targets.values():
        for i, w in enumerate(tc.config.policies.waivers):
            if w.resource is None or any(fnmatch.fnmatchcase(a, w.resource) for a in addresses):
                continue
            if not any(_names_target(w.resource, env, region) for env, region in checked):
                continue  # names only targets this check did not compile: nothing to tell
            close = difflib.get_close_matches(w.resource, addresses, n=1, cutoff=0.6)
            found.append(
                Diagnostic(
                    "W303",
                    f"the waiver of {w.policy} for resource '{w.resource}' matches no resource address: "
                    "it waives nothing",
                    path=("policies", "waivers", i, "resource"),
                    hint=f"did you mean '{close[0]}'?" if close else _ADDRESSES,
                    severity=Severity.WARNING,
                ).located(tc.sources, key=False)
            )
    return found


def _blanket_resource_waivers(
    validation: Validation, graphs: Mapping[Target, Graph], today: datetime.date
) -> list[Diagnostic]:
    """A waiver whose resource pattern matches every resource of the targets it names (``*``,
    ``prod/*``) drops every finding of its policy there: a level of off in all but name, which W408
    would have warned of."""
    found = []
    for tc in validation.targets.values():
        for i, w in enumerate(tc.config.policies.waivers):
            if w.resource is None or (w.expires is not None and w.expires < today):
                continue
            named = [t for t in graphs if _names_target(w.resource, t.env, t.region)]
            addresses = [a for t in named for a in graphs[t].resources]
            if not addresses or not all(fnmatch.fnmatchcase(a, w.resource) for a in addresses):
                continue
            scope = ", ".join(map(str, named))  # the targets checked: a command may select some
            found.append(
                Diagnostic(
                    "W409",
                    f"the waiver of {w.policy} for resource '{w.resource}' matches every resource of "
                    f"{scope}: it drops every finding of {w.policy} there, as a level of off would",
                    path=("policies", "waivers", i, "resource"),
                    hint="waive only the resources whose findings you accept, by their addresses ('mlopsctl "
                    f"plan' prints them), or make {w.policy} a warning under policies.levels",
                    severity=Severity.WARNING,
                ).located(tc.sources, key=False)
            )
    return found


def evaluate(
    ctx: PolicyContext, policies: list[Policy], sources: SourceMap, today: datetime.date
) -> list[Diagnostic]:
    """One target's findings: each policy at its level, waived ones dropped, expired waivers warned of."""
    settings = ctx.settings
    waivers = [w for w in settings.waivers if w.expires is None or w.expires >= today]
    found: list[Diagnostic] = []
    for p in policies:
        level = settings.levels.get(p.id, default_level(ctx, p.id))
        if level == "off":
            continue
        for d in _run(ctx, p, Severity(level)):
            if not any(_waives(w, d) for w in waivers):
                found.append(d.located(sources, key=True))
    found += [
        Diagnostic(
            FRAMEWORK,
            f"the waiver of {w.policy} for {w.resource or w.path} expired on {w.expires}: "
            "it no longer applies",
            path=("policies", "waivers", i, "expires"),
            hint="renew it with a new date and reason, or fix what it waived",
            severity=Severity.WARNING,
        ).located(sources, key=True)
        for i, w in enumerate(settings.waivers)
        if w not in waivers and settings.levels.get(FRAMEWORK) != "off"
    ]
    return found


def default_level(ctx: PolicyContext, policy_id: str) -> Level:
    """Error, except for the hardening policies outside production (warnings there)."""
    return "warning" if policy_id in SECURITY and not ctx.production else "error"


def _run(ctx: PolicyContext, policy: Policy, severity: Severity) -> list[Diagnostic]:
    """The policy's findings as diagnostics; a policy that fails is one error naming where it comes from."""
    try:
        findings = list(policy.check(ctx))
        if not all(isinstance(f, Finding) for f in findings):
            raise TypeError("it yielded something other than mlopsctl.policies.Finding")
    except Exception as exc:  # a custom policy's bug must not stop the other gates
        return [
            Diagnostic(
                policy.id,
                f"policy {policy.id} ({policy.origin}) failed: {type(exc).__name__}: {exc}",
                hint="fix the policy, or set its level to off under policies.levels",
            )
        ]
    return [
        Diagnostic(
            policy.id,
            f.message,
            path=f.path or _source(ctx, f.address),
            hint=f.hint,
            severity=severity,
            address=f.address,
        )
        for f in findings
    ]


def _source(ctx: PolicyContext, address: str | None) -> tuple[str | int, ...]:
    resource = ctx.graph.resources.get(address or "")
    return resource.source if resource else ()


def _waives(waiver: Waiver, d: Diagnostic) -> bool:
    if waiver.policy != d.code:
        return False
    if waiver.resource is not None:
        return d.address is not None and fnmatch.fnmatchcase(d.address, waiver.resource)
    return waives_path(waiver.path or "", d.path)
