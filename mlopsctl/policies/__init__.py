"""Policy gates over the compiled resource graph, for ``mlopsctl check`` (docs/policies.md).

A policy is a function of a :class:`PolicyContext` (one target: its graph, its validated
config and, when ``check`` compares with state, the plan's changes to it) that yields
:class:`Finding`\\ s. The runner gives each finding its policy's id and level, places it in
mlops.yaml and drops the waived ones. Built-ins are registered with :func:`policy`; teams
add their own through the ``mlopsctl.policies`` entry point group.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.models.policies import Policies
from mlopsctl.config.policy_catalog import BUILTINS, HELP
from mlopsctl.config.sourcemap import Path
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource
from mlopsctl.plan import TargetPlan


@dataclass(frozen=True)
class Finding:
    """What a policy found: about a resource of the graph (``address``), a place in
    mlops.yaml (``path``), or both. Without ``path`` the resource's source is used."""

    message: str
    hint: str | None = None
    address: str | None = None
    path: Path = ()


@dataclass(frozen=True)
class PolicyContext:
    target: Target
    graph: Graph
    config: MLOpsConfig
    """The validated config, for intent the graph does not show (rollout strategies, monitors)."""
    plan: TargetPlan | None = None
    """The changes to this target, when ``check`` compares with state (``--repo``, ``--base``)."""

    @property
    def settings(self) -> Policies:
        return self.config.policies

    @property
    def production(self) -> bool:
        return self.target.env in self.settings.production

    def of_type(self, *type_tokens: str) -> list[Resource]:
        return [r for r in self.graph if r.type in type_tokens]


PolicyFunction = Callable[[PolicyContext], Iterable[Finding]]


@dataclass(frozen=True)
class Policy:
    id: str
    title: str
    description: str
    check: PolicyFunction
    origin: str = "built-in"
    """Where the policy comes from: built-in, or its entry point (``name = module:function``)."""


_REGISTERED: dict[str, PolicyFunction] = {}


def policy(policy_id: str) -> Callable[[PolicyFunction], PolicyFunction]:
    """Register a built-in policy under an id of :data:`BUILTINS`."""
    if policy_id not in BUILTINS:
        raise ValueError(f"unlisted policy id {policy_id}")

    def register(fn: PolicyFunction) -> PolicyFunction:
        _REGISTERED[policy_id] = fn
        return fn

    return register


def builtin_policies() -> list[Policy]:
    from mlopsctl.policies import (  # noqa: F401  (registrations)
        capacity,
        credentials,
        data,
        protection,
        security,
        serving,
        workloads,
    )

    return [Policy(i, *BUILTINS[i], check=fn) for i, fn in sorted(_REGISTERED.items())]


def policies_markdown() -> str:
    """The table of built-in policies, as kept in docs/policies.md."""
    lines = ["| id | policy | what it checks |", "| --- | --- | --- |"]
    lines += [f"| [{i}](#{i.lower()}) | {title} | {text} |" for i, (title, text) in sorted(BUILTINS.items())]
    for i, (title, _) in sorted(BUILTINS.items()):
        reason, fix = HELP[i]
        lines += ["", f"### {i}", "", f"**{title}**", "", f"Why: {reason}", "", f"Fix: {fix}"]
    return "\n".join(lines) + "\n"
