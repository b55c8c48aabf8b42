"""The resource graph: what one environment/region compiles to.

After the build stage the configuration model is no longer used; everything
downstream (render, plan, apply) reads only these types.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from mlopsctl.config.sourcemap import Path
from mlopsctl.config.target import Target

JSON = Any  # a JSON-compatible value: dict, list, str, int, float, bool or None


def as_mapping(value: JSON) -> dict[str, JSON]:
    """``value`` if a mapping, else an empty one: what a template override renders may be any shape."""
    return value if isinstance(value, dict) else {}


def as_list(value: JSON) -> list[JSON]:
    """``value`` if a list, else an empty one (see :func:`as_mapping`)."""
    return value if isinstance(value, list) else []


HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
KUSTOMIZE_DIRECTORY = "kubernetes:kustomize/v2:Directory"
ADDON_TYPES = frozenset({HELM_RELEASE, KUSTOMIZE_DIRECTORY})


@dataclass(frozen=True)
class Resource:
    """One resource with a stable, human-readable address.

    ``type`` is a Pulumi type token (``gcp:storage/bucket:Bucket``,
    ``kubernetes:core/v1:Namespace``); ``inputs`` use the provider's property
    names; ``source`` is the path in mlops.yaml the resource came from.
    """

    target: Target
    type: str
    name: str
    inputs: Mapping[str, JSON]
    depends_on: tuple[str, ...] = ()
    protect: bool = False
    source: Path = ()

    @property
    def address(self) -> str:
        return address_of(self.target, self.type, self.name)

    @property
    def is_kubernetes(self) -> bool:
        """A Kubernetes object (one manifest), rather than a cloud resource or an add-on."""
        return self.type.startswith("kubernetes:") and self.type not in ADDON_TYPES

    @property
    def is_addon(self) -> bool:
        """A cluster add-on: upstream's own package (a Helm chart or a kustomization), installed whole."""
        return self.type in ADDON_TYPES


def is_deferred(value: JSON) -> bool:
    """A value known only when applied: ``{"fn::invoke" | "fn::join" | "fn::output": ...}``.

    The graph writes such values the way Pulumi YAML does; the Pulumi program resolves them.
    """
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)).startswith("fn::")


def address_of(target: Target, type_token: str, name: str) -> str:
    return f"{target.env}/{target.region}/{type_token}/{name}"


@dataclass
class Graph:
    """The resources of one target, keyed by address, in insertion order."""

    target: Target
    gcp_project: str
    resources: dict[str, Resource] = field(default_factory=dict)
    _by_type: dict[str, list[str]] = field(default_factory=dict, init=False, repr=False, compare=False)
    """Addresses by type (:meth:`of_type`): of the resources given, then of those :meth:`add` adds (a
    resource replaced in place keeps its address and type)."""

    def __post_init__(self) -> None:
        for r in self.resources.values():
            self._by_type.setdefault(r.type, []).append(r.address)

    def add(self, resource: Resource) -> Resource:
        if resource.target != self.target:
            raise ValueError(f"{resource.address} does not belong to {self.target}")
        if resource.address in self.resources:
            raise ValueError(f"duplicate resource address {resource.address}")
        self.resources[resource.address] = resource
        self._by_type.setdefault(resource.type, []).append(resource.address)
        return resource

    def of_type(self, type_token: str) -> list[Resource]:
        """The resources of one type, in insertion order (without scanning the graph)."""
        return [self.resources[a] for a in self._by_type.get(type_token, ()) if a in self.resources]

    def __iter__(self) -> Iterator[Resource]:
        return iter(self.resources.values())

    def __len__(self) -> int:
        return len(self.resources)

    def ordered(self) -> list[Resource]:
        """Resources in dependency order, level by level, each level by address (deterministic)."""
        waiting: dict[str, int] = {}
        dependents: dict[str, list[str]] = {}
        for r in self:
            deps = set(r.depends_on) & self.resources.keys()
            waiting[r.address] = len(deps)
            for d in deps:
                dependents.setdefault(d, []).append(r.address)
        level = sorted(a for a, n in waiting.items() if n == 0)
        out: list[Resource] = []
        while level:
            following = []
            for address in level:
                out.append(self.resources[address])
                for dependent in dependents.get(address, ()):
                    waiting[dependent] -= 1
                    if waiting[dependent] == 0:
                        following.append(dependent)
            level = sorted(following)
        if len(out) < len(waiting):
            done = {r.address for r in out}
            raise ValueError(f"dependency cycle among {sorted(a for a in waiting if a not in done)}")
        return out

    def validate_references(self) -> None:
        """Every dependency names a resource of this graph (a build bug otherwise)."""
        for r in self:
            missing = [d for d in r.depends_on if d not in self.resources]
            if missing:
                raise ValueError(f"{r.address} depends on unknown {missing}")


# Values the Pulumi program resolves when it applies, in Pulumi YAML's notation; only for
# what cannot be known at compile time (project numbers, server-assigned ids, secret payloads).


def fn_invoke(function: str, arguments: Mapping[str, JSON], returns: str) -> JSON:
    """The ``returns`` property of what the provider function ``function`` answers."""
    return {"fn::invoke": {"function": function, "arguments": dict(arguments), "return": returns}}


def fn_join(delimiter: str, values: list[JSON]) -> JSON:
    return {"fn::join": [delimiter, values]}


def fn_output(resource: str, property_name: str) -> JSON:
    """An output of the resource at address ``resource``, which must be a dependency."""
    return {"fn::output": {"resource": resource, "property": property_name}}


def canonical_json(value: JSON) -> str:
    """One text per JSON value: equal texts mean equal values (``true`` differs from ``1``)."""
    return json.dumps(value, sort_keys=True, allow_nan=False)
