"""The Pulumi program: one Pulumi resource per resource of a compiled graph.

It knows no particular resource: each type token is looked up in the provider
SDK's own registry (``mlopsctl.pulumi.types``), its camelCase inputs become the
SDK's ``*Args``, and deferred values resolve to Outputs (``mlopsctl.pulumi.values``).
Resources are created in dependency order; a resource's Pulumi name is its graph
name, which with its type token (part of the URN) and the stack (one per
environment/region) identifies it as its address does.

Google Cloud resources use one explicit ``gcp`` provider for the target's project
and region. Cluster add-ons (Helm releases, kustomize directories) and Kubernetes objects use one
``kubernetes`` provider: for the cluster the
graph creates (and they wait for it and its node pools), or the ambient kubeconfig.
Each Google Cloud resource waits for the enabling of its API (``build.apis``).
Vertex AI resources that pulumi-gcp lacks (``mlopsctl:vertex/...``) are dynamic resources
(``mlopsctl.pulumi.vertex``): they carry their own provider and wait for the Vertex AI API.
A resource the plan imports (``plan.Existing``, see ``mlopsctl.pulumi.adopt``) is registered with
``import_``, so that Pulumi adopts it rather than creating it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from mlopsctl.compiler.apis import SERVICE, api_of
from mlopsctl.graph import Graph, Resource
from mlopsctl.plan import Existing
from mlopsctl.plan.resource_types import FORCED
from mlopsctl.pulumi import vertex
from mlopsctl.pulumi.kube import CLUSTER, NODE_POOL, create_object, provider
from mlopsctl.pulumi.types import InputError, args_class, resource_class, split_token, to_args
from mlopsctl.pulumi.values import Resolver

STATE_OUTPUT = "mlopsctlState"
"""The stack output holding the mlopsctl state document of what the stack applied."""


def create(graph: Graph, state: str | None = None) -> dict[str, Any]:
    """Register every resource of ``graph``; export ``state`` (see ``STATE_OUTPUT``). Address → resource."""
    import pulumi

    program = _Program(graph)
    for resource in _ordered(graph):
        program.add(resource)
    if state is not None:
        pulumi.export(STATE_OUTPUT, state)
    return program.resolver.created


def program_of(graph: Graph, state: str | None = None) -> Callable[[], None]:
    """``create`` as an Automation API inline program."""

    def run() -> None:
        create(graph, state)

    return run


def _ordered(graph: Graph) -> list[Resource]:
    """Dependency order: add-ons after the clusters and node pools, every Kubernetes object after
    the add-ons (whose CRDs and webhooks it needs), and every Google Cloud resource after the
    enabling of its API."""
    infrastructure = tuple(r.address for r in graph if r.type in (CLUSTER, NODE_POOL))
    addons = tuple(r.address for r in graph if r.is_addon)
    services = {r.inputs["service"]: r.address for r in graph if r.type == SERVICE}
    ordering = Graph(graph.target, graph.gcp_project)
    for r in graph:
        api = services.get((vertex.API if vertex.is_vertex(r.type) else api_of(r.type)) or "")
        if r.is_kubernetes:
            extra: tuple[str, ...] = (*infrastructure, *addons)
        else:
            extra = infrastructure if r.is_addon else (api,) if api else ()
        ordering.add(dataclasses.replace(r, depends_on=(*r.depends_on, *extra)))
    return ordering.ordered()


class _Program:
    def __init__(self, graph: Graph) -> None:
        import pulumi_gcp

        self.graph = graph
        self.types = {r.type for r in graph}
        self.resolver = Resolver(self.provider)
        self.gcp = pulumi_gcp.Provider("gcp", project=graph.gcp_project, region=graph.target.region)
        self._kubernetes: Any = None
        clusters = [r.address for r in graph if r.type == CLUSTER]
        if len(clusters) > 1:
            raise InputError(f"one cluster per environment/region expected, found {clusters}")
        self.cluster = clusters[0] if clusters else None

    def provider(self, package: str) -> Any:
        if package == "gcp":
            return self.gcp
        if package != "kubernetes":
            raise InputError(f"no provider for package {package!r}")
        if self._kubernetes is None:
            self._kubernetes = provider(self._cluster_outputs(), self._options(()))
        return self._kubernetes

    def _cluster_outputs(self) -> tuple[Any, Any, Any] | None:
        if self.cluster is None:
            return None
        out = self.resolver.output
        return (
            out(self.cluster, "name"),
            out(self.cluster, "endpoint"),
            out(self.cluster, "masterAuth.clusterCaCertificate"),
        )

    def _options(self, depends_on: tuple[str, ...], **extra: Any) -> Any:
        import pulumi

        created = self.resolver.created
        return pulumi.ResourceOptions(depends_on=[created[d] for d in depends_on], **extra)

    def add(self, resource: Resource) -> None:
        if vertex.is_vertex(resource.type):  # a dynamic resource, with a provider of its own
            from mlopsctl.pulumi.vertex.resources import create_resource

            opts = self._options(resource.depends_on, protect=resource.protect)
            created = create_resource(resource.type, resource.name, resource.inputs, self.resolver, opts)
            self.resolver.created[resource.address] = created
            return
        package = split_token(resource.type)[0]
        imported = {"import_": resource.import_id} if isinstance(resource, Existing) else {}
        opts = self._options(
            resource.depends_on,
            protect=resource.protect,
            provider=self.provider(package),
            ignore_changes=vertex.ignored_changes(resource.type, self.types) or None,
            replace_on_changes=list(FORCED.get(resource.type, ())) or None,
            **imported,
        )
        if resource.is_kubernetes:
            created = create_object(resource.type, resource.name, resource.inputs, self.resolver, opts)
        else:
            cls = resource_class(resource.type)
            if cls is None:
                raise InputError(f"{resource.address}: {package} has no resource type {resource.type}")
            args = to_args(args_class(cls), resource.inputs, resource.address, self.resolver)
            created = cls(resource.name, args, opts=opts)
        self.resolver.created[resource.address] = created
