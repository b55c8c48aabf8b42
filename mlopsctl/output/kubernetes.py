"""The kubernetes target: server-side apply a graph's Kubernetes objects to its cluster, then prune.

Only the graph's ``kubernetes:`` resources are this target's (Google Cloud resources are
the pulumi target's), so plans made for it cover only them. One environment/region is
applied at a time, to the current kube context or ``--context``; a GKE context that names
another cluster is refused.

- Objects are applied in dependency order (every object after its Namespace, custom
  resources after their CustomResourceDefinition when the graph has them) with
  server-side apply as field manager ``mlopsctl`` and ``force=true``: mlopsctl owns the
  fields it writes and takes them over from any other manager (``kubectl edit``, a
  controller); fields it does not write are left to their owners. After applying a
  CustomResourceDefinition, the apply waits until it is established and its kind served;
  a write refused for a passing reason (a webhook not serving yet) is retried
  (``mlopsctl.output.kubewait`` has the bounds).
- Pruning deletes, in reverse dependency order, the objects carrying all of mlopsctl's
  ownership labels for this project and target (``ownership_labels``) that the graph no
  longer has, among the kinds of the graph and of the recorded state. An object missing
  any of those labels, or owned by another object (``metadata.ownerReferences``, such as
  the Services Flagger generates with our labels copied), is never deleted, with one
  exception (``ADDED_OWNERS``): the owner reference that an admission webhook adds to
  every object of a kind mlopsctl applies. Kubeflow Pipelines' webhook makes each
  PipelineVersion a dependent of its Pipeline; the version is still mlopsctl's, and is
  pruned when the graph no longer has it.
- What was applied is recorded in a state store (``mlopsctl.state.store``) under its
  lock, after every object was applied and pruned; a failed apply records nothing, and
  applying again completes it.
- ``plan`` adds a server-side dry run (``dryRun=All``) of every object; objects the API
  server rejects fail the plan with the server's message. Objects that wait for what this
  apply creates are not checked: those in a namespace of the graph that does not exist yet,
  of a kind whose CRD the graph adds, and PipelineVersions of a Pipeline the graph adds
  (KFP's webhook refuses a version until its Pipeline exists).
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any

from mlopsctl.compiler.context import ownership_labels
from mlopsctl.config.addons import serving
from mlopsctl.config.target import Target
from mlopsctl.graph import JSON, Graph, Resource, is_deferred
from mlopsctl.output import ApplyError, Outcome, Release
from mlopsctl.output.kubeapi import ClusterRef, Connection, NotServed, RequestError, connect
from mlopsctl.output.kubewait import REAL_CLOCK, Budget, Clock, NotEstablished
from mlopsctl.plan import Plan
from mlopsctl.state import State, state_from_graph
from mlopsctl.state.store import LockHeldError, StateStore

NAMESPACE = "kubernetes:core/v1:Namespace"
CRD = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
OPERATION = "mlopsctl apply --target kubernetes"

ObjectKey = tuple[str, str, str, str]
"""(API group, kind, namespace or "", name): one object, whichever version it is read as."""


def open_store(config: pathlib.Path, url: str | None) -> StateStore:
    """The state store at ``url`` (default: ``.mlopsctl/state`` beside the config)."""
    from mlopsctl.state import backends

    return backends.store_from_url(url, config.parent)


def kubernetes_part(graph: Graph) -> Graph:
    """The graph's Kubernetes objects, with their dependencies on each other."""
    kept = {r.address for r in graph if r.is_kubernetes}
    part = Graph(graph.target, graph.gcp_project)
    for r in graph:
        if r.is_kubernetes:
            part.add(dataclasses.replace(r, depends_on=tuple(d for d in r.depends_on if d in kept)))
    return part


def api_version_kind(type_token: str) -> tuple[str, str]:
    """The apiVersion and kind of a type token: ``kubernetes:core/v1:Namespace`` → (``v1``, ``Namespace``)."""
    _, group_version, kind = type_token.split(":")
    return group_version.removeprefix("core/"), kind


def object_key(api_version: str, kind: str, metadata: Mapping[str, JSON]) -> ObjectKey:
    group = api_version.rpartition("/")[0]
    return group, kind, metadata.get("namespace") or "", metadata["name"]


def resource_key(r: Resource) -> ObjectKey:
    return object_key(*api_version_kind(r.type), r.inputs.get("metadata") or {})


def apply_order(graph: Graph) -> list[Resource]:
    """Dependency order, each object also after its Namespace and its CRD when the graph has them."""
    namespaces = {r.name: r.address for r in graph if r.type == NAMESPACE}
    crds = {defined_kind(r): r.address for r in graph if r.type == CRD}
    ordering = Graph(graph.target, graph.gcp_project)
    for r in graph:
        group, kind, namespace, _ = resource_key(r)
        implied = {namespaces.get(namespace), crds.get((group, kind))} - {None, r.address}
        ordering.add(dataclasses.replace(r, depends_on=(*r.depends_on, *sorted(a for a in implied if a))))
    return ordering.ordered()


def defined_kind(crd: Resource) -> tuple[str, str]:
    """The (group, kind) a CustomResourceDefinition defines."""
    return crd.inputs["spec"]["group"], crd.inputs["spec"]["names"]["kind"]


ADDED_OWNERS: dict[tuple[str, str], tuple[str, str]] = {
    ("pipelines.kubeflow.org", "PipelineVersion"): ("pipelines.kubeflow.org", "Pipeline"),
}
"""(group, kind) of an object mlopsctl applies → (group, kind) of the owner that admission adds
to it: KFP's PipelineVersion webhook references the version's Pipeline (without ``controller``)."""


def prunable(key: ObjectKey, metadata: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """An object pruning may delete: it has all of ``labels``, and no owner but one admission adds."""
    found = metadata.get("labels") or {}
    owners = metadata.get("ownerReferences") or []
    return all(found.get(k) == v for k, v in labels.items()) and all(_added(key, ref) for ref in owners)


def _added(key: ObjectKey, ref: Mapping[str, Any]) -> bool:
    """Whether ``ref`` is the owner that admission adds to objects like ``key`` (never a controller)."""
    group = str(ref.get("apiVersion", "")).rpartition("/")[0]
    return not ref.get("controller") and ADDED_OWNERS.get(key[:2]) == (group, ref.get("kind"))


def label_selector(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _deferred_path(value: JSON, path: str) -> str | None:
    if is_deferred(value):
        return path
    children = (
        value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    )
    for key, child in children:
        found = _deferred_path(child, f"{path}.{key}" if isinstance(key, str) else f"{path}[{key}]")
        if found:
            return found
    return None


def check_one_target(targets: tuple[Target, ...]) -> None:
    """The kubernetes target applies to one cluster, so to one environment/region at a time."""
    if len(targets) != 1:
        chosen = ", ".join(map(str, targets)) or "none"
        raise ApplyError(
            f"the kubernetes target applies to one cluster at a time, and the selection holds {chosen}: "
            "choose one with --env and --region"
        )


def _only_target(release: Release, removed: tuple[Target, ...] = ()) -> tuple[Target, Graph]:
    if removed:
        gone = ", ".join(map(str, removed))
        raise ApplyError(
            f"{gone} left the config; the kubernetes target does not delete whole environments/regions: "
            "select the others with --env and --region, and delete its namespace in its own cluster"
        )
    check_one_target(tuple(release.graphs))
    return next(iter(release.graphs.items()))


class KubernetesTarget:
    def __init__(
        self,
        store: Callable[[], StateStore],
        *,
        kubeconfig: str | None = None,
        context: str | None = None,
        clock: Clock = REAL_CLOCK,
    ) -> None:
        self._open_store = store
        self.clock = clock
        self._store: StateStore | None = None
        self.kubeconfig = kubeconfig
        self.context = context
        self._read: dict[Target, State] = {}
        """What ``applied`` read: the plan's base, which must not change before the apply."""

    @property
    def store(self) -> StateStore:
        if self._store is None:
            self._store = self._open_store()
        return self._store

    def scope(self, graph: Graph) -> Graph:
        return kubernetes_part(graph)

    def applied(self, project: str) -> dict[Target, State]:
        states = {t: self.store.read(project, t) for t in self.store.targets(project)}
        self._read = {t: s for t, s in states.items() if s is not None}
        return dict(self._read)

    @contextmanager
    def _connect(self, project: str, graph: Graph) -> Iterator[Connection]:
        cluster = ClusterRef(graph.target, graph.gcp_project, project)
        with connect(cluster, self.kubeconfig, self.context, self.clock) as connection:
            yield connection

    def preview(self, release: Release) -> Outcome:
        """A server-side dry run of every object; an ApplyError lists the objects the server rejects."""
        target, graph = _only_target(release)
        objects = _objects(graph)
        with self._connect(release.project, graph) as connection:
            rejected, waiting = dry_run(connection, graph, objects)
        if rejected:
            raise ApplyError(
                f"the API server ({connection.context}) rejects {len(rejected)} of {len(objects)} objects "
                f"of {target} in a server-side dry run:\n" + "\n".join(f"  - {line}" for line in rejected)
            )
        accepted = len(objects) - len(waiting)
        line = f"{target}: server-side dry run in {connection.context}: {accepted} accepted"
        if waiting:
            line += (
                f", {len(waiting)} not checked (their namespace, kind or pipeline is created by this apply)"
            )
        return Outcome(False, line)

    def apply(self, plan: Plan, release: Release, removed: tuple[Target, ...]) -> Outcome:
        """Under the target's lock: apply every object, prune, record the state."""
        target, graph = _only_target(release, removed)
        objects = _objects(graph)
        with _locked(self.store, release.project, target):
            previous = self.store.read(release.project, target)
            if previous != self._read.get(target):
                raise ApplyError(f"the state of {target} changed since it was read: plan and apply again")
            with self._connect(release.project, graph) as connection:
                _apply_all(connection, objects)
                deleted = prune(connection, graph, previous, release.project)
            state = state_from_graph(
                graph,
                project=release.project,
                source_commit=release.source_commit,
                config_hash=release.config_hashes[target],
            )
            if previous is None or not _same_resources(previous, state):
                self.store.write(state)
        lines = [
            f"Applied {len(objects)} objects of {target} to {connection.context} "
            f"(server-side apply as mlopsctl); pruned {len(deleted)}.",
            *(f"  - deleted {d}" for d in deleted),
        ]
        return Outcome(plan.has_changes or bool(deleted), "\n".join(lines))


def _same_resources(old: State, new: State) -> bool:
    """Only the provenance would change: the record is kept as it is."""
    return (old.gcp_project, dict(old.resources)) == (new.gcp_project, dict(new.resources))


def _objects(graph: Graph) -> list[Resource]:
    """The objects in apply order; refuses values only Pulumi can resolve."""
    ordered = apply_order(graph)
    for r in ordered:
        found = _deferred_path(r.inputs, "")
        if found:
            raise ApplyError(
                f"{r.address} holds a value known only when Pulumi applies it (at {found.lstrip('.')}): "
                "apply it with --target pulumi"
            )
    return ordered


def dry_run(connection: Connection, graph: Graph, objects: list[Resource]) -> tuple[list[str], list[str]]:
    """(rejections as ``address: message``, addresses that wait for a namespace or CRD of the graph)."""
    created_namespaces = {r.name for r in graph if r.type == NAMESPACE}
    created_kinds = {defined_kind(r) for r in graph if r.type == CRD}
    rejected: list[str] = []
    waiting: list[str] = []
    budget = Budget(scope="dry run")
    for r in objects:
        group, kind, _, _ = resource_key(r)
        try:
            connection.apply(r.inputs, dry_run=True, budget=budget)
        except NotServed as exc:
            if (group, kind) not in created_kinds:
                rejected.append(f"{r.address}: {exc}{_from_addon(r)}")
            else:
                waiting.append(r.address)
        except RequestError as exc:
            missing_namespace = exc.status == 404 and exc.details.get("kind") == "namespaces"
            to_come = missing_namespace and exc.details.get("name") in created_namespaces
            if to_come or (exc.status == 400 and _pipeline_to_come(connection, graph, r)):
                waiting.append(r.address)
            else:
                rejected.append(f"{r.address}: {exc.message}")
    return rejected, waiting


def _pipeline_to_come(connection: Connection, graph: Graph, r: Resource) -> bool:
    """Whether ``r`` is a PipelineVersion whose Pipeline this apply creates: KFP's webhook refuses a
    version (400, in a dry run too) until its Pipeline exists."""
    group, kind, namespace, _ = resource_key(r)
    if (group, kind) != ("pipelines.kubeflow.org", "PipelineVersion"):
        return False
    wanted = (group, "Pipeline", namespace, (r.inputs.get("spec") or {}).get("pipelineName"))
    parent = next((p for p in graph if resource_key(p) == wanted), None)
    try:
        return parent is not None and not connection.exists(parent.inputs)
    except (NotServed, RequestError):
        return False


def _from_addon(resource: Resource) -> str:
    """Where the missing kind of ``resource`` comes from: this target installs no add-ons."""
    addon = serving(str(resource.inputs["apiVersion"]), str(resource.inputs["kind"]))
    if addon is None:
        return ""
    how = "part of GKE" if addon.install == "gke" else f"{addon.install} {addon.package or addon.source}"
    return (
        f" (it comes with add-on {addon.name} {addon.version}, {how}: install the add-ons that "
        "`mlopsctl platform` lists, or apply with --target pulumi or gitops, which install them)"
    )


def _apply_all(connection: Connection, objects: list[Resource]) -> None:
    """Apply each object; after a CRD, wait until it is established (its custom resources may follow)."""
    for done, r in enumerate(objects):
        try:
            connection.apply(r.inputs)
        except (NotServed, RequestError) as exc:
            raise ApplyError(
                f"cannot apply {r.address}: {exc}; {done} of {len(objects)} objects were applied before it, "
                "nothing was pruned and the state was not recorded: fix it and apply again"
            ) from None
        if r.type != CRD:
            continue
        try:
            connection.wait_established(r.inputs)
        except NotEstablished as exc:
            raise ApplyError(
                f"{exc.problem}; {done + 1} of {len(objects)} objects were applied (the last {r.address}), "
                f"nothing was pruned and the state was not recorded: {exc.remedy}"
            ) from None


def prune(connection: Connection, graph: Graph, previous: State | None, project: str) -> list[str]:
    """Delete mlopsctl's objects of this target that the graph no longer has; what was deleted."""
    labels = ownership_labels(project, graph.target)
    desired = {resource_key(r) for r in graph}
    known = previous.to_graph() if previous else Graph(graph.target, graph.gcp_project)
    rank = {resource_key(r): i for i, r in enumerate(reversed(apply_order(known)))}
    doomed: dict[ObjectKey, Any] = {}
    for api_version, kind in sorted({api_version_kind(r.type) for r in (*graph, *known)}):
        try:
            resource = connection.resource(api_version, kind)
        except NotServed:
            continue  # nothing of a kind the cluster no longer serves can be left
        for item in _listed(connection, resource, labels, project):
            key = object_key(api_version, kind, item.get("metadata") or {})
            if key not in desired and prunable(key, item.get("metadata") or {}, labels):
                doomed.setdefault(key, resource)
    order = sorted(doomed, key=lambda k: (k[1] == "Namespace", rank.get(k, -1), k))
    for group, kind, namespace, name in order:
        try:
            connection.delete(doomed[(group, kind, namespace, name)], name, namespace or None)
        except RequestError as exc:
            raise ApplyError(
                f"cannot delete {_shown(kind, namespace, name)} to prune it: {exc.message}"
            ) from None
    return [_shown(kind, namespace, name) for _, kind, namespace, name in order]


def _shown(kind: str, namespace: str, name: str) -> str:
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def _listed(connection: Connection, resource: Any, labels: Mapping[str, str], project: str) -> list[Any]:
    try:
        return connection.list(resource, label_selector(labels))
    except RequestError as exc:
        raise ApplyError(f"cannot list the {resource.kind} objects of {project}: {exc.message}") from None


@contextmanager
def _locked(store: StateStore, project: str, target: Target) -> Iterator[None]:
    with ExitStack() as stack:
        try:
            stack.enter_context(store.lock(project, target, OPERATION))
        except LockHeldError as exc:
            raise ApplyError(str(exc)) from exc  # the API completes its force-unlock command
        yield
