"""The plan: a pure diff of the desired graph against the applied state, per target.

A resource whose inputs differ from the applied ones only in provenance that changes with every
commit or edit (``provenance.VOLATILE``: the commit, the source line) is unchanged: the plan
carries its applied inputs over into the graph to apply (``TargetPlan.desired``), so that
applying changes nothing. Provenance never forces a replacement.

A resource that an apply target found already existing in the cloud (:class:`Existing`, see
``output.Scoped``) and that the applied state does not hold is imported: its change carries the id
to import (``importing``) and diffs its inputs as found against the desired ones, as Terraform 1.5
plans an ``import`` block. Once the state holds it, it is an ordinary resource again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from mlopsctl.compiler.provenance import PROVENANCE, VOLATILE, without
from mlopsctl.config.sourcemap import Path
from mlopsctl.config.target import Target
from mlopsctl.graph import JSON, Graph, Resource, canonical_json
from mlopsctl.plan.resource_types import replace_paths
from mlopsctl.state import AppliedResource, State, json_value


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    NO_OP = "no-op"


CREATE: tuple[Action, ...] = (Action.CREATE,)
UPDATE: tuple[Action, ...] = (Action.UPDATE,)
DELETE: tuple[Action, ...] = (Action.DELETE,)
REPLACE: tuple[Action, ...] = (Action.DELETE, Action.CREATE)
NO_OP: tuple[Action, ...] = (Action.NO_OP,)


@dataclass(frozen=True)
class Existing(Resource):
    """A resource of the graph that exists in the cloud already, with the id its provider imports it by
    and its inputs as read there (what an import keeps)."""

    import_id: str = ""
    found: Mapping[str, JSON] = field(default_factory=dict)

    @classmethod
    def of(cls, resource: Resource, import_id: str, found: Mapping[str, JSON]) -> Existing:
        return cls(**_resource_fields(resource), import_id=import_id, found=found)

    def plain(self) -> Resource:
        return Resource(**_resource_fields(self))


def _resource_fields(resource: Resource) -> dict[str, Any]:
    """What makes ``resource`` a :class:`Resource`, whatever its subclass adds."""
    return {f.name: getattr(resource, f.name) for f in dataclasses.fields(Resource)}


@dataclass(frozen=True)
class ResourceChange:
    """One resource's change; ``before``/``after`` are its inputs (None when absent). An import has
    the id it imports (``importing``) and its inputs as found as ``before``: with nothing to change,
    its actions are ``no-op``."""

    address: str
    type: str
    name: str
    target: Target
    actions: tuple[Action, ...]
    before: dict[str, JSON] | None
    after: dict[str, JSON] | None
    replace_paths: tuple[str, ...] = ()
    protect: bool = False
    source: Path = ()
    importing: str | None = None


@dataclass(frozen=True)
class Summary:
    add: int = 0
    change: int = 0
    destroy: int = 0
    imports: int = 0

    @classmethod
    def of(cls, changes: Sequence[ResourceChange]) -> Summary:
        """A replacement counts in ``add`` and in ``destroy``; an import in ``imports`` (and, if it
        also changes the resource, where that change counts)."""
        return cls(
            add=sum(Action.CREATE in c.actions for c in changes),
            change=sum(c.actions == UPDATE for c in changes),
            destroy=sum(Action.DELETE in c.actions for c in changes),
            imports=sum(c.importing is not None for c in changes),
        )


@dataclass(frozen=True)
class TargetPlan:
    """Changes to one target: creates, updates and replacements in dependency
    order, then deletions in reverse dependency order. No-ops are only counted."""

    target: Target
    changes: tuple[ResourceChange, ...] = ()
    unchanged: int = 0
    desired: Graph | None = field(default=None, compare=False, repr=False)
    """The graph to apply (None: the target left the config), with the applied inputs carried over."""

    @property
    def summary(self) -> Summary:
        return Summary.of(self.changes)


@dataclass(frozen=True)
class Plan:
    project: str
    targets: tuple[TargetPlan, ...] = ()

    @property
    def changes(self) -> list[ResourceChange]:
        return [c for t in self.targets for c in t.changes]

    @property
    def summary(self) -> Summary:
        return Summary.of(self.changes)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)


def diff_target(target: Target, desired: Graph | None, applied: State | None) -> TargetPlan:
    """What it takes to move ``target`` from ``applied`` to ``desired``.

    ``desired`` None: the target left the configuration, everything is destroyed.
    ``applied`` None: nothing was applied yet, everything is created.
    """
    for found in (desired, applied):
        if found is not None and found.target != target:
            raise ValueError(f"expected {target}, got a graph or state of {found.target}")
    if desired is not None and applied is not None:
        desired = carried(desired, applied)
    desired_order = desired.ordered() if desired else []
    old = applied.resources if applied else {}
    changes = [_change(r, old.get(r.address)) for r in desired_order]
    gone = old.keys() - {r.address for r in desired_order}
    deleted = [_deletion(target, old[r.address]) for r in _applied_order(applied, gone)]
    kept = [c for c in changes if c.actions != NO_OP or c.importing is not None]
    return TargetPlan(
        target=target,
        changes=(*kept, *reversed(deleted)),
        unchanged=len(changes) - len(kept),
        desired=desired,
    )


def carried(desired: Graph, applied: State) -> Graph:
    """``desired`` with the applied inputs of every resource whose inputs differ from them only in
    volatile provenance (see the module); a resource the state holds is no longer imported."""
    out = Graph(desired.target, desired.gcp_project)
    for resource in desired:
        old = applied.resources.get(resource.address)
        if old is not None and isinstance(resource, Existing):
            resource = resource.plain()
        if old is not None and _same(resource.type, old.inputs, resource.inputs):
            resource = dataclasses.replace(resource, inputs=old.inputs)
        out.add(resource)
    return out


def _same(type_token: str, before: Mapping[str, JSON], after: Mapping[str, JSON]) -> bool:
    """Equal but for volatile provenance."""
    return canonical_json(without(type_token, before, VOLATILE)) == canonical_json(
        without(type_token, after, VOLATILE)
    )


def diff_plan(project: str, desired: Mapping[Target, Graph], applied: Mapping[Target, State]) -> Plan:
    """The plan over every target: those of ``desired`` in its order, then removed ones sorted."""
    removed = sorted(applied.keys() - desired.keys(), key=lambda t: (t.env, t.region))
    return Plan(
        project=project,
        targets=tuple(diff_target(t, desired.get(t), applied.get(t)) for t in [*desired, *removed]),
    )


def destructive_changes(plan: Plan) -> list[ResourceChange]:
    """Every change that deletes something, replacements included."""
    return [c for c in plan.changes if Action.DELETE in c.actions]


def blocked_by_protection(plan: Plan) -> list[ResourceChange]:
    """Destructive changes to protected resources: they need an explicit allowance."""
    return [c for c in destructive_changes(plan) if c.protect]


def _applied_order(applied: State | None, addresses: set[str]) -> list[Resource]:
    """The applied resources at ``addresses``, in dependency order."""
    if applied is None or not addresses:
        return []
    return [r for r in applied.to_graph().ordered() if r.address in addresses]


def _change(resource: Resource, applied: AppliedResource | None) -> ResourceChange:
    after: dict[str, JSON] = json_value(resource.inputs)
    before: dict[str, JSON] | None = json_value(applied.inputs) if applied else None
    importing = None
    if before is None and isinstance(resource, Existing):  # imported: diffed against what was found
        before, importing = json_value(resource.found), resource.import_id
    forcing: tuple[str, ...] = ()
    if before is None:
        actions = CREATE
    elif before is after or canonical_json(before) == canonical_json(after):  # is: carried over
        actions = NO_OP
    else:
        forcing = replace_paths(
            resource.type,
            without(resource.type, before, PROVENANCE),
            without(resource.type, after, PROVENANCE),
        )
        actions = REPLACE if forcing else UPDATE
    return ResourceChange(
        address=resource.address,
        type=resource.type,
        name=resource.name,
        target=resource.target,
        actions=actions,
        before=before,
        after=after,
        replace_paths=forcing,
        protect=resource.protect or (applied is not None and applied.protect),
        source=resource.source,
        importing=importing,
    )


def _deletion(target: Target, applied: AppliedResource) -> ResourceChange:
    return ResourceChange(
        address=applied.address,
        type=applied.type,
        name=applied.name,
        target=target,
        actions=DELETE,
        before=json_value(applied.inputs),
        after=None,
        protect=applied.protect,
    )


NO_CHANGES = "No changes. Your infrastructure matches the configuration."


def summary_line(plan: Plan) -> str:
    """Terraform's last line of a plan: ``Plan: X to add, Y to change, Z to destroy.``, which starts
    ``Plan: N to import, `` when the plan imports."""
    if not plan.has_changes:
        return NO_CHANGES
    s = plan.summary
    imports = f"{s.imports} to import, " if s.imports else ""
    return f"Plan: {imports}{s.add} to add, {s.change} to change, {s.destroy} to destroy."
