"""The kubernetes target against a fake API server: the exact requests, pruning rules, dry run, errors."""

from __future__ import annotations

import contextlib
import pathlib
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from helpers import applied, apply_saved, plan_text, planned, save_plan, validated
from kubefake import DIGITS_PROD_CONTEXT, FakeApiServer, install, plural, served_kinds, write_kubeconfig

from mlopsctl import api
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource, fn_output
from mlopsctl.output import ApplyError, Release
from mlopsctl.output.kubernetes import (
    KubernetesTarget,
    api_version_kind,
    apply_order,
    kubernetes_part,
    prunable,
)
from mlopsctl.state import State, state_from_graph
from mlopsctl.state import backends as stores
from mlopsctl.state.store import LockHeldError, LockInfo

ROOT = pathlib.Path(__file__).resolve().parents[2]
DIGITS = ROOT / "examples" / "projects" / "digits" / "mlops.yaml"
PROD = Target("prod", "us-central1")
ONLY_PROD = api.Selection(("prod",), ("us-central1",))
SSA = "?fieldManager=mlopsctl&force=true"
DRY_SSA = "?dryRun=All&fieldManager=mlopsctl&force=true"
SELECTOR = (
    "app.kubernetes.io/managed-by=mlopsctl,app.kubernetes.io/part-of=digits,"
    "mlopsctl.dev/env=prod,mlopsctl.dev/region=us-central1"
)
LABELS = {
    "app.kubernetes.io/managed-by": "mlopsctl",
    "app.kubernetes.io/part-of": "digits",
    "mlopsctl.dev/env": "prod",
    "mlopsctl.dev/region": "us-central1",
}
GET_CREDENTIALS = (
    "run 'gcloud container clusters get-credentials digits-prod-usc1 --region us-central1 "
    "--project acme-digits-prod'"
)

RBAC = "/apis/rbac.authorization.k8s.io/v1/namespaces/digits"
KFP = "/apis/pipelines.kubeflow.org/v2beta1/namespaces/digits"
NAMESPACE = "kubernetes:core/v1:Namespace"


def object_path(r: Resource) -> str:
    """The API path of a graph object, as the fake server (and a real one) serves it."""
    api_version, kind = api_version_kind(r.type)
    metadata = r.inputs["metadata"]
    where = f"/namespaces/{metadata['namespace']}" if metadata.get("namespace") else ""
    return (
        f"{'/apis' if '/' in api_version else '/api'}/{api_version}{where}/{plural(kind)}/{metadata['name']}"
    )


def list_path(api_version: str, kind: str) -> str:
    return f"{'/apis' if '/' in api_version else '/api'}/{api_version}/{plural(kind)}"


def assert_first_apply(requests: list[str], graph: Graph) -> None:
    """Discovery, then one server-side apply per object, each after the objects it depends on and its
    namespace (each group/version discovered once, before its first object), then one
    label-selected list per kind to prune (nothing to delete)."""
    assert requests[:4] == [
        "GET /version",
        "GET /apis",
        "GET /api/v1",
        f"PATCH /api/v1/namespaces/digits{SSA}",
    ]
    patches = [r.removesuffix(SSA).removeprefix("PATCH ") for r in requests if r.startswith("PATCH ")]
    assert sorted(patches) == sorted(object_path(r) for r in graph)
    position = {path: i for i, path in enumerate(patches)}
    namespaces = {r.name: r for r in graph if r.type == NAMESPACE}
    for r in graph:
        before = [graph.resources[d] for d in r.depends_on]
        before += [namespaces[n] for n in [r.inputs["metadata"].get("namespace")] if n in namespaces]
        assert all(position[object_path(b)] < position[object_path(r)] for b in before), r.address
    discovered = [r.removeprefix("GET ") for r in requests if r.startswith("GET /apis/") and "?" not in r]
    groups = {list_path(*api_version_kind(r.type)).rpartition("/")[0] for r in graph}
    assert sorted(discovered) == sorted(groups - {"/api/v1"})
    kinds = sorted({api_version_kind(r.type) for r in graph})
    lists = [f"GET {list_path(*kind)}?labelSelector={SELECTOR}" for kind in kinds]
    assert requests[-len(lists) :] == lists
    assert len(requests) == 3 + len(discovered) + len(graph) + len(lists)


class MemoryStore:
    """A state store in memory (the real ones keep files or GCS objects)."""

    def __init__(self) -> None:
        self.states: dict[tuple[str, Target], State] = {}
        self.locks: dict[tuple[str, Target], LockInfo] = {}
        self.writes = 0
        self.opened: list[tuple[str, str | None]] = []
        """(config, --state) of every opening of a store."""

    def targets(self, project: str) -> Iterator[Target]:
        return iter(sorted((t for p, t in self.states if p == project), key=str))

    def read(self, project: str, target: Target) -> State | None:
        return self.states.get((project, target))

    @contextlib.contextmanager
    def lock(self, project: str, target: Target, operation: str) -> Iterator[LockInfo]:
        held = self.locks.get((project, target))
        if held is not None:
            raise LockHeldError(target, held)
        self.locks[(project, target)] = LockInfo("lock-1", "me@here", operation, "2026-01-01T00:00:00Z")
        try:
            yield self.locks[(project, target)]
        finally:
            del self.locks[(project, target)]

    def write(self, state: State) -> None:
        self.writes += 1
        self.states[(state.project, state.target)] = state

    def delete(self, project: str, target: Target) -> None:
        self.states.pop((project, target), None)

    def force_unlock(self, project: str, target: Target, lock_id: str) -> LockInfo:
        return self.locks.pop((project, target))


def validation_of(path: pathlib.Path = DIGITS) -> api.Validation:
    validation = api.validate(ConfigSource(path, "mlops.yaml", None), ONLY_PROD)
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    return validation


def without_schedule(folder: pathlib.Path) -> pathlib.Path:
    """The digits config without the training schedule (whose CronJob goes away)."""
    text = DIGITS.read_text(encoding="utf-8")
    schedule = '    schedule:\n      cron: "0 4 * * 1"\n      timeZone: America/Chicago\n'
    assert schedule in text
    path = folder / "mlops.yaml"
    path.write_text(text.replace(schedule, ""), encoding="utf-8")
    shutil.copytree(DIGITS.parent / "trainer", folder / "trainer")  # the train step's code folder
    return path


def prod_graph(validation: api.Validation) -> Graph:
    return kubernetes_part(api.compile_graphs(validation)[PROD])


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


GRAPH = prod_graph(validation_of())
OBJECTS = len(GRAPH)
"""The Kubernetes objects of the digits example in prod/us-central1."""


def platform_namespaces(graph: Graph) -> list[str]:
    """The namespaces of objects of the graph that the graph does not create: the platform's (its
    add-ons and GKE create them)."""
    created = {r.name for r in graph if r.type == NAMESPACE}
    namespaces = {r.inputs["metadata"].get("namespace") for r in graph}
    return sorted(n for n in namespaces if n and n not in created)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> FakeApiServer:
    """A cluster with the platform installed and nothing of the project."""
    fake = FakeApiServer(served_kinds(r.type for r in GRAPH))
    for name in platform_namespaces(GRAPH):
        fake.put("v1", "Namespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    install(monkeypatch, fake)
    return fake


def as_applied(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` without what the server adds to what mlopsctl applies: its uid, and what KFP's
    webhook adds to a PipelineVersion (labels naming the Pipeline, an owner reference to it)."""
    metadata = {k: v for k, v in obj["metadata"].items() if k not in ("uid", "ownerReferences")}
    if obj["kind"] == "PipelineVersion":
        labels = metadata["labels"]
        metadata["labels"] = {k: v for k, v in labels.items() if k != "pipelines.kubeflow.org/pipeline-id"}
    return {**obj, "metadata": metadata}


def mlopsctls(server: FakeApiServer) -> list[dict[str, Any]]:
    """The objects on the server that carry mlopsctl's labels."""
    return [
        o for o in server.objects.values() if (o["metadata"].get("labels") or {}).items() >= LABELS.items()
    ]


@pytest.fixture
def kubeconfig(tmp_path: pathlib.Path) -> pathlib.Path:
    return write_kubeconfig(tmp_path)


def target_for(store: MemoryStore, kubeconfig: pathlib.Path, context: str | None = None) -> KubernetesTarget:
    return KubernetesTarget(lambda: store, kubeconfig=str(kubeconfig), context=context)


def apply(store: MemoryStore, kubeconfig: pathlib.Path, path: pathlib.Path = DIGITS) -> api.Outcome:
    validation = validation_of(path)
    target = target_for(store, kubeconfig)
    _, outcome = api.apply_graphs(validation, api.graphs_for(validation, target), target, ONLY_PROD)
    return outcome


def preview(store: MemoryStore, kubeconfig: pathlib.Path) -> str:
    validation = validation_of()
    target = target_for(store, kubeconfig)
    return target.preview(api.release_of(validation, api.graphs_for(validation, target))).detail


def test_apply_discovers_then_applies_server_side_in_dependency_order_then_lists_to_prune(
    store: MemoryStore, server: FakeApiServer, kubeconfig: pathlib.Path
) -> None:
    outcome = apply(store, kubeconfig)
    graph = prod_graph(validation_of())
    assert_first_apply(server.requests, graph)
    assert set(server.content_types) == {"application/apply-patch+yaml"}
    assert sorted(str(as_applied(o)) for o in mlopsctls(server)) == sorted(str(dict(r.inputs)) for r in graph)
    recorded = store.states[("digits", PROD)]
    assert dict(recorded.resources) == dict(
        state_from_graph(graph, project="digits", source_commit=None, config_hash="").resources
    )
    assert outcome.detail == (
        f"Applied {OBJECTS} objects of prod/us-central1 to {DIGITS_PROD_CONTEXT} "
        "(server-side apply as mlopsctl); pruned 0."
    )


def test_a_second_apply_of_the_same_graph_prunes_nothing_and_keeps_the_state(
    store: MemoryStore, server: FakeApiServer, kubeconfig: pathlib.Path
) -> None:
    apply(store, kubeconfig)
    server.clear()
    outcome = apply(store, kubeconfig)
    assert_first_apply(server.requests, GRAPH)
    assert (store.writes, outcome.changed) == (1, False)


def test_objects_removed_from_the_config_are_deleted_in_reverse_dependency_order(
    store: MemoryStore, server: FakeApiServer, kubeconfig: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    apply(store, kubeconfig)
    server.clear()
    outcome = apply(store, kubeconfig, without_schedule(tmp_path))
    cronjob = "/apis/batch/v1/namespaces/digits/cronjobs/train-schedule"
    deletes = [
        f"DELETE {cronjob}?propagationPolicy=Background",
        f"DELETE {RBAC}/rolebindings/pipeline-train-prod-usc1-runs?propagationPolicy=Background",
        f"DELETE {RBAC}/roles/pipeline-train-prod-usc1-runs?propagationPolicy=Background",
    ]
    assert server.requests[-3:] == deletes
    assert [r for r in server.requests if r.startswith("DELETE")] == deletes
    assert f"PATCH {cronjob}{SSA}" not in server.requests
    assert ("batch/v1", "cronjobs", "digits", "train-schedule") not in server.objects
    assert outcome.detail.splitlines()[1:] == [
        "  - deleted CronJob digits/train-schedule",
        "  - deleted RoleBinding digits/pipeline-train-prod-usc1-runs",
        "  - deleted Role digits/pipeline-train-prod-usc1-runs",
    ]
    recorded = store.states[("digits", PROD)].resources
    assert "prod/us-central1/kubernetes:batch/v1:CronJob/train-schedule" not in recorded
    assert len(recorded) == OBJECTS - 3


def _service(name: str, labels: dict[str, str], owners: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": "digits", "labels": labels}
    if owners:
        metadata["ownerReferences"] = owners
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": {}}


FLAGGER_OWNER = {
    "apiVersion": "flagger.app/v1beta1",
    "kind": "Canary",
    "name": "digits",
    "uid": "0b5c4c2e-1",
    "controller": True,
}


@pytest.mark.parametrize("server_filters", [True, False], ids=["server-filters", "server-ignores-selector"])
def test_pruning_deletes_only_unowned_objects_with_all_of_its_labels(
    store: MemoryStore, server: FakeApiServer, kubeconfig: pathlib.Path, server_filters: bool
) -> None:
    apply(store, kubeconfig)
    without_region = {k: v for k, v in LABELS.items() if k != "mlopsctl.dev/region"}
    server.put("v1", "Service", _service("digits-primary", LABELS, [FLAGGER_OWNER]))
    server.put("v1", "Service", _service("digits-canary", LABELS, [FLAGGER_OWNER]))
    server.put("v1", "Service", _service("partial", without_region))
    server.put("v1", "Service", _service("other-env", {**LABELS, "mlopsctl.dev/env": "dev"}))
    server.put("v1", "Service", _service("other-project", {**LABELS, "app.kubernetes.io/part-of": "fraud"}))
    server.put("v1", "Service", _service("stray", LABELS))
    server.honor_selectors = server_filters
    server.clear()
    outcome = apply(store, kubeconfig)
    deletes = [r for r in server.requests if r.startswith("DELETE")]
    assert deletes == ["DELETE /api/v1/namespaces/digits/services/stray?propagationPolicy=Background"]
    left = {name for (_, res, _, name) in server.objects if res == "services"}
    assert left == {r.inputs["metadata"]["name"] for r in GRAPH if r.type == "kubernetes:core/v1:Service"} | {
        "digits-primary",
        "digits-canary",
        "partial",
        "other-env",
        "other-project",
    }
    assert outcome.changed


def test_the_dry_run_sends_dry_run_all_and_reports_the_servers_rejection(
    store: MemoryStore, server: FakeApiServer, kubeconfig: pathlib.Path
) -> None:
    server.put("v1", "Namespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "digits"}})
    candidate = "/apis/serving.kserve.io/v1beta1/namespaces/digits/inferenceservices/digits-candidate"
    message = (
        'InferenceService.serving.kserve.io "digits-candidate" is invalid: '
        "spec.predictor.minReplicas: Invalid value: -1: must be at least 0"
    )
    server.rejections[candidate] = message
    before = dict(server.objects)
    with pytest.raises(ApplyError) as caught:
        preview(store, kubeconfig)
    assert str(caught.value) == (
        f"the API server ({DIGITS_PROD_CONTEXT}) rejects 1 of {OBJECTS} objects of prod/us-central1 in a "
        "server-side dry run:\n"
        "  - prod/us-central1/kubernetes:serving.kserve.io/v1beta1:InferenceService/digits-candidate: "
        + message
    )
    patches = [r for r in server.requests if r.startswith("PATCH")]
    assert len(patches) == OBJECTS
    assert all(p.endswith(DRY_SSA) for p in patches)
    assert f"PATCH {candidate}{DRY_SSA}" in patches
    assert server.objects == before
    assert store.writes == 0


def test_a_dry_run_in_an_empty_cluster_does_not_check_what_waits_for_its_namespace(
    store: MemoryStore, server: FakeApiServer, kubeconfig: pathlib.Path
) -> None:
    before = dict(server.objects)
    waiting = [r for r in GRAPH if r.inputs["metadata"].get("namespace") == "digits"]
    assert preview(store, kubeconfig) == (
        f"prod/us-central1: server-side dry run in {DIGITS_PROD_CONTEXT}: {OBJECTS - len(waiting)} accepted, "
        f"{len(waiting)} not checked (their namespace, kind or pipeline is created by this apply)"
    )
    assert server.objects == before


def test_a_dry_run_does_not_check_the_version_of_a_pipeline_it_creates(
    store: MemoryStore, server: FakeApiServer, kubeconfig: pathlib.Path
) -> None:
    """KFP's webhook refuses a PipelineVersion, in a dry run too, until its Pipeline exists."""
    apply(store, kubeconfig)
    version = next(r for r in GRAPH if r.type.endswith(":PipelineVersion"))
    del server.objects[("pipelines.kubeflow.org/v2beta1", "pipelines", "digits", "train")]
    del server.objects[("pipelines.kubeflow.org/v2beta1", "pipelineversions", "digits", version.name)]
    assert preview(store, kubeconfig).endswith(
        f"{OBJECTS - 1} accepted, 1 not checked (their namespace, kind or pipeline is created by this apply)"
    )
    server.rejections[object_path(version)] = (400, "The pipeline spec is invalid")
    server.put(
        "pipelines.kubeflow.org/v2beta1", "Pipeline", {"metadata": {"name": "train", "namespace": "digits"}}
    )
    with pytest.raises(ApplyError) as caught:
        preview(store, kubeconfig)
    assert str(caught.value).endswith(f"  - {version.address}: The pipeline spec is invalid")


def test_a_kind_the_cluster_does_not_serve_fails_the_dry_run(
    store: MemoryStore, server: FakeApiServer, kubeconfig: pathlib.Path
) -> None:
    server.served = [k for k in server.served if k[1] != "InferenceService"]
    server.put("v1", "Namespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "digits"}})
    with pytest.raises(ApplyError) as caught:
        preview(store, kubeconfig)
    lines = str(caught.value).splitlines()
    assert lines[0].endswith(f"rejects 2 of {OBJECTS} objects of prod/us-central1 in a server-side dry run:")
    assert lines[1] == (
        "  - prod/us-central1/kubernetes:serving.kserve.io/v1beta1:InferenceService/digits-baseline: "
        "the cluster does not serve InferenceService of serving.kserve.io/v1beta1 (it comes with add-on "
        "kserve v0.20.0, helm kserve-resources: install the add-ons that `mlopsctl platform` lists, or "
        "apply with --target pulumi or gitops, which install them)"
    )


def test_a_rejected_object_stops_the_apply_before_pruning_and_records_nothing(
    store: MemoryStore, server: FakeApiServer, kubeconfig: pathlib.Path
) -> None:
    gateway = "/apis/networking.istio.io/v1/namespaces/digits/gateways/digits"
    applied_before = [object_path(r) for r in apply_order(GRAPH)].index(gateway)
    server.rejections[gateway] = (
        'Gateway.networking.istio.io "digits" is invalid: spec.servers: Required value'
    )
    with pytest.raises(ApplyError) as caught:
        apply(store, kubeconfig)
    assert str(caught.value) == (
        "cannot apply prod/us-central1/kubernetes:networking.istio.io/v1:Gateway/digits: "
        'Gateway.networking.istio.io "digits" is invalid: spec.servers: Required value; '
        f"{applied_before} of {OBJECTS} objects were applied before it, nothing was pruned and the state "
        "was not recorded: fix it and apply again"
    )
    assert server.requests[-1] == f"PATCH {gateway}{SSA}"
    assert (store.states, store.locks) == ({}, {})


def test_a_held_lock_refuses_the_apply(
    store: MemoryStore, server: FakeApiServer, kubeconfig: pathlib.Path
) -> None:
    store.locks[("digits", PROD)] = LockInfo(
        "abc123", "ci@runner-7", "mlopsctl apply", "2026-03-01T10:00:00Z"
    )
    with pytest.raises(ApplyError) as caught:
        apply(store, kubeconfig)
    assert str(caught.value).startswith(
        "the state of prod/us-central1 is locked by ci@runner-7 (mlopsctl apply"
    )
    assert server.requests == []


def test_the_apply_takes_the_lock_of_its_target(
    store: MemoryStore, server: FakeApiServer, kubeconfig: pathlib.Path
) -> None:
    operations = []
    original = store.lock

    @contextlib.contextmanager
    def spy(project: str, target: Target, operation: str) -> Iterator[LockInfo]:
        with original(project, target, operation) as info:
            operations.append((project, str(target), operation, len(server.requests)))
            yield info

    store.lock = spy  # type: ignore[method-assign]
    apply(store, kubeconfig)
    assert operations == [("digits", "prod/us-central1", "mlopsctl apply --target kubernetes", 0)]


def test_a_gke_context_of_another_cluster_is_refused(
    store: MemoryStore, server: FakeApiServer, tmp_path: pathlib.Path
) -> None:
    dev = "gke_acme-digits-dev_us-central1_digits-dev-usc1"
    with pytest.raises(ApplyError) as caught:
        apply(store, write_kubeconfig(tmp_path, context=dev))
    assert str(caught.value) == (
        f"the context {dev} is the GKE cluster digits-dev-usc1 (us-central1, acme-digits-dev), but the "
        f"objects of prod/us-central1 belong in digits-prod-usc1: pass --context {DIGITS_PROD_CONTEXT} or "
        f"{GET_CREDENTIALS}"
    )
    assert server.requests == []


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("kubernetes:core/v1:Namespace", ("v1", "Namespace")),
        ("kubernetes:apps/v1:Deployment", ("apps/v1", "Deployment")),
        (
            "kubernetes:serving.kserve.io/v1beta1:InferenceService",
            ("serving.kserve.io/v1beta1", "InferenceService"),
        ),
    ],
)
def test_api_version_kind(token: str, expected: tuple[str, str]) -> None:
    assert api_version_kind(token) == expected


KFP_OWNER = {
    "apiVersion": "pipelines.kubeflow.org/v2beta1",
    "kind": "Pipeline",
    "name": "train",
    "uid": "5d1f-2",
    "blockOwnerDeletion": True,
}
SERVICE = ("", "Service", "digits", "x")
VERSION = ("pipelines.kubeflow.org", "PipelineVersion", "digits", "train-0123456789")


@pytest.mark.parametrize(
    ("key", "metadata", "expected"),
    [
        (SERVICE, {"labels": LABELS}, True),
        (SERVICE, {"labels": {**LABELS, "app.kubernetes.io/component": "serving"}}, True),
        (SERVICE, {"labels": {**LABELS, "mlopsctl.dev/region": "europe-west4"}}, False),
        (SERVICE, {"labels": {k: v for k, v in LABELS.items() if k != "app.kubernetes.io/part-of"}}, False),
        (SERVICE, {}, False),
        (SERVICE, {"labels": LABELS, "ownerReferences": [FLAGGER_OWNER]}, False),
        # KFP's webhook owns every PipelineVersion to its Pipeline: still mlopsctl's by its labels.
        (VERSION, {"labels": LABELS, "ownerReferences": [KFP_OWNER]}, True),
        (VERSION, {"labels": {**LABELS, "mlopsctl.dev/env": "dev"}, "ownerReferences": [KFP_OWNER]}, False),
        (VERSION, {"labels": LABELS, "ownerReferences": [KFP_OWNER, FLAGGER_OWNER]}, False),
        (VERSION, {"labels": LABELS, "ownerReferences": [{**KFP_OWNER, "controller": True}]}, False),
        (VERSION, {"labels": LABELS, "ownerReferences": [{**KFP_OWNER, "kind": "Experiment"}]}, False),
        (SERVICE, {"labels": LABELS, "ownerReferences": [KFP_OWNER]}, False),
    ],
)
def test_prunable(key: tuple[str, str, str, str], metadata: dict[str, Any], expected: bool) -> None:
    assert prunable(key, metadata, LABELS) is expected


def with_epochs(folder: pathlib.Path, epochs: int) -> pathlib.Path:
    """The digits config with another default for the train pipeline's epochs: a new PipelineVersion."""
    path = without_schedule(folder)
    text = DIGITS.read_text(encoding="utf-8")
    assert "      epochs: 20\n" in text
    path.write_text(text.replace("      epochs: 20\n", f"      epochs: {epochs}\n"), encoding="utf-8")
    return path


def test_a_pipeline_version_the_config_no_longer_declares_is_pruned_despite_its_kfp_owner(
    store: MemoryStore, server: FakeApiServer, kubeconfig: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    apply(store, kubeconfig)
    [old] = [k for k in server.objects if k[1] == "pipelineversions"]
    pipeline = server.objects[("pipelines.kubeflow.org/v2beta1", "pipelines", "digits", "train")]
    [owner] = server.objects[old]["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("Pipeline", "train", pipeline["metadata"]["uid"])
    server.clear()
    outcome = apply(store, kubeconfig, with_epochs(tmp_path, 30))
    [new] = [k for k in server.objects if k[1] == "pipelineversions"]
    assert new != old
    deletes = [r for r in server.requests if r.startswith("DELETE")]
    assert deletes == [f"DELETE {KFP}/pipelineversions/{old[3]}?propagationPolicy=Background"]
    assert outcome.detail.splitlines()[1:] == [f"  - deleted PipelineVersion digits/{old[3]}"]
    assert server.objects[new]["metadata"]["ownerReferences"][0]["uid"] == pipeline["metadata"]["uid"]
    recorded = store.states[("digits", PROD)].resources
    assert [a for a in recorded if ":PipelineVersion/" in a] == [
        f"prod/us-central1/kubernetes:pipelines.kubeflow.org/v2beta1:PipelineVersion/{new[3]}"
    ]


def _object(kind: str, name: str, namespace: str | None = None) -> Resource:
    metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
    token = f"kubernetes:core/v1:{kind}"
    return Resource(PROD, token, name, {"apiVersion": "v1", "kind": kind, "metadata": metadata})


def test_objects_are_applied_after_their_namespace_even_without_a_declared_dependency() -> None:
    graph = Graph(PROD, "p")
    graph.add(_object("ConfigMap", "a", "zz"))
    graph.add(_object("Namespace", "zz"))
    assert [r.name for r in apply_order(graph)] == ["zz", "a"]


def test_the_kubernetes_part_drops_google_cloud_resources_and_dependencies_on_them() -> None:
    graph = Graph(PROD, "p")
    graph.add(Resource(PROD, "gcp:storage/bucket:Bucket", "raw", {}))
    namespace = graph.add(_object("Namespace", "ns"))
    bucket = "prod/us-central1/gcp:storage/bucket:Bucket/raw"
    graph.add(Resource(PROD, "kubernetes:core/v1:ServiceAccount", "sa", {}, (bucket, namespace.address)))
    part = kubernetes_part(graph)
    assert [(r.name, r.depends_on) for r in part] == [("ns", ()), ("sa", (namespace.address,))]


# Through the library, with the target named as the command line names it


@pytest.fixture
def routed_store(store: MemoryStore, monkeypatch: pytest.MonkeyPatch) -> MemoryStore:
    """``store``, which every state URL the kubernetes target opens leads to (recorded in ``opened``)."""

    def store_from_url(url: str | None, config_dir: pathlib.Path) -> MemoryStore:
        store.opened.append((str(config_dir / "mlops.yaml"), url))
        return store

    monkeypatch.setattr(stores, "store_from_url", store_from_url)
    return store


PROD_ENV = api.Selection(("prod",))


def kube(kubeconfig: pathlib.Path | None = None, state: str | None = None) -> api.TargetSpec:
    """The kubernetes target as ``--target kubernetes --kubeconfig K --state S`` name it."""
    return api.TargetSpec(
        api.TargetKind.kubernetes, kubeconfig=str(kubeconfig) if kubeconfig else None, state=state
    )


def plan_and_preview(spec: api.TargetSpec, selection: api.Selection = PROD_ENV) -> None:
    """What ``plan`` does against ``spec``'s target: plan, then the target's server-side dry run."""
    with validated(DIGITS, selection) as validation:
        api.plan(validation, DIGITS, selection, spec).preview()


def refusal(command: str, spec: api.TargetSpec, selection: api.Selection = PROD_ENV) -> list[str]:
    """The lines of the UserError that refuses ``command`` (plan or apply) of the digits example."""
    with pytest.raises(api.UserError) as caught:
        if command == "plan":
            plan_and_preview(spec, selection)
        else:
            applied(DIGITS, spec, selection=selection)
    return str(caught.value).splitlines()


def test_apply_through_the_api(
    routed_store: MemoryStore, server: FakeApiServer, kubeconfig: pathlib.Path
) -> None:
    result = applied(DIGITS, kube(kubeconfig), selection=PROD_ENV)
    assert result.plan.summary.add == OBJECTS
    assert f"Plan: {OBJECTS} to add, 0 to change, 0 to destroy." in plan_text(result.plan)
    assert result.outcome.detail.endswith(
        f"to {DIGITS_PROD_CONTEXT} (server-side apply as mlopsctl); pruned 0."
    )
    assert_first_apply(server.requests, GRAPH)
    assert routed_store.opened == [(str(DIGITS), None)]


def test_a_plan_fails_when_the_dry_run_is_rejected(
    routed_store: MemoryStore, server: FakeApiServer, kubeconfig: pathlib.Path
) -> None:
    server.put("v1", "Namespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "digits"}})
    server.rejections["/api/v1/namespaces/digits/services/digits"] = 'Service "digits" is invalid: spec.ports'
    printed: list[str] = []
    with pytest.raises(api.UserError) as caught, validated(DIGITS, PROD_ENV) as validation:
        result = api.plan(validation, DIGITS, PROD_ENV, kube(kubeconfig))
        printed.append(plan_text(result.plan))
        result.preview()
    assert f"Plan: {OBJECTS} to add" in printed[0]
    assert str(caught.value).splitlines() == [
        f"the API server ({DIGITS_PROD_CONTEXT}) rejects 1 of {OBJECTS} objects of prod/us-central1 "
        "in a server-side dry run:",
        '  - prod/us-central1/kubernetes:core/v1:Service/digits: Service "digits" is invalid: spec.ports',
    ]


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_an_unreachable_api_server_is_one_error_line(
    routed_store: MemoryStore, tmp_path: pathlib.Path, command: str
) -> None:
    kubeconfig = write_kubeconfig(tmp_path, server="https://127.0.0.1:1")
    [line] = refusal(command, kube(kubeconfig))
    assert line.startswith(
        f"cannot reach the Kubernetes API at https://127.0.0.1:1 (context {DIGITS_PROD_CONTEXT}: "
    )
    assert line.endswith(f"): check that the cluster is up and reachable from here, or {GET_CREDENTIALS}")


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_without_a_kubeconfig_the_error_says_how_to_get_one(
    routed_store: MemoryStore, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    missing = tmp_path / "missing"
    monkeypatch.setenv("KUBECONFIG", str(missing))
    assert refusal(command, kube()) == [
        f"no kubeconfig with a context at {missing}: {GET_CREDENTIALS}, or pass --kubeconfig"
    ]


def test_refused_credentials_are_one_error_line(
    routed_store: MemoryStore, server: FakeApiServer, kubeconfig: pathlib.Path
) -> None:
    server.unauthorized = True
    assert refusal("apply", kube(kubeconfig)) == [
        "the Kubernetes API at https://k8s.test refused the credentials of context "
        f"{DIGITS_PROD_CONTEXT} (401 Unauthorized): {GET_CREDENTIALS}"
    ]


def test_one_cluster_at_a_time(
    routed_store: MemoryStore, server: FakeApiServer, kubeconfig: pathlib.Path
) -> None:
    with validated(DIGITS) as validation:
        targets = ", ".join(str(t) for t in validation.targets)
    assert len(validation.targets) > 1
    assert refusal("apply", kube(kubeconfig), api.ALL) == [
        f"the kubernetes target applies to one cluster at a time, and the selection holds {targets}: "
        "choose one with --env and --region"
    ]
    assert server.requests == []


def test_a_state_url_that_names_no_store_is_a_clear_error(kubeconfig: pathlib.Path) -> None:
    assert refusal("plan", kube(kubeconfig, "gs://")) == ["gs://: name the bucket, as gs://BUCKET/PREFIX"]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (api.TargetSpec(context="x"), "--context is for --target kubernetes"),
        (api.TargetSpec(api.TargetKind.pulumi, kubeconfig="k"), "--kubeconfig is for --target kubernetes"),
        (
            api.TargetSpec(api.TargetKind.kubernetes, backend="file:///b"),
            "--repo and --backend are not for the kubernetes target; it keeps its state in --state",
        ),
    ],
)
def test_kubernetes_options_belong_to_its_target(spec: api.TargetSpec, expected: str) -> None:
    with pytest.raises(api.UserError) as caught:
        planned(DIGITS, spec)
    assert str(caught.value) == expected


def test_a_saved_plan_applies_with_the_options_it_was_made_with(
    routed_store: MemoryStore, server: FakeApiServer, kubeconfig: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    saved = tmp_path / "plan.json"
    save_plan(DIGITS, saved, kube(kubeconfig, "mem://x"), selection=PROD_ENV)
    server.clear()
    outcome = apply_saved(saved).outcome
    assert outcome.detail.endswith("(server-side apply as mlopsctl); pruned 0.")
    assert_first_apply(server.requests, GRAPH)
    assert ("digits", PROD) in routed_store.states
    assert routed_store.opened == [(str(DIGITS), "mem://x")] * 2


def test_values_only_pulumi_can_resolve_are_refused(store: MemoryStore, kubeconfig: pathlib.Path) -> None:
    graph = Graph(PROD, "acme-digits-prod")
    account = _object("ServiceAccount", "sa", "digits")
    email = fn_output("prod/us-central1/gcp:serviceaccount/account:Account/a", "email")
    metadata = {**account.inputs["metadata"], "annotations": {"iam.gke.io/gcp-service-account": email}}
    graph.add(Resource(PROD, account.type, "sa", {**account.inputs, "metadata": metadata}))
    release = Release("digits", {PROD: graph}, {PROD: "h"}, None)
    with pytest.raises(ApplyError) as caught:
        target_for(store, kubeconfig).preview(release)
    assert str(caught.value) == (
        "prod/us-central1/kubernetes:core/v1:ServiceAccount/sa holds a value known only when Pulumi "
        "applies it (at metadata.annotations.iam.gke.io/gcp-service-account): apply it with --target pulumi"
    )


def test_a_state_changed_since_the_plan_stops_the_apply(
    store: MemoryStore, server: FakeApiServer, kubeconfig: pathlib.Path
) -> None:
    validation = validation_of()
    target = target_for(store, kubeconfig)
    graphs = api.graphs_for(validation, target)
    plan, removed = api.make_plan(validation, graphs, target.applied("digits"), ONLY_PROD)
    apply(store, kubeconfig)  # another apply in between
    server.clear()
    with pytest.raises(ApplyError) as caught:
        target.apply(plan, api.release_of(validation, graphs), removed)
    assert (
        str(caught.value) == "the state of prod/us-central1 changed since it was read: plan and apply again"
    )
    assert server.requests == []
