"""What the kubernetes target's tests share: the requests it sends, applying and previewing the
digits example."""

from __future__ import annotations

import pathlib
import shutil
from typing import Any

from kube_cluster import DIGITS, NAMESPACE, ONLY_PROD, PROD, MemoryStore, digits_graph, validation_of
from kubefake import FakeApiServer, plural

from mlopsctl import api
from mlopsctl.graph import Graph, Resource
from mlopsctl.output.kubernetes import KubernetesTarget, api_version_kind

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


def without_schedule(folder: pathlib.Path) -> pathlib.Path:
    """The digits config without the training schedule (whose CronJob goes away)."""
    text = DIGITS.read_text(encoding="utf-8")
    schedule = '    schedule:\n      cron: "0 4 * * 1"\n      timeZone: America/Chicago\n'
    assert schedule in text
    path = folder / "mlops.yaml"
    path.write_text(text.replace(schedule, ""), encoding="utf-8")
    shutil.copytree(DIGITS.parent / "trainer", folder / "trainer")  # the train step's code folder
    return path


GRAPH = digits_graph()
OBJECTS = len(GRAPH)
"""The Kubernetes objects of the digits example in prod/us-central1."""


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


FLAGGER_OWNER = {
    "apiVersion": "flagger.app/v1beta1",
    "kind": "Canary",
    "name": "digits",
    "uid": "0b5c4c2e-1",
    "controller": True,
}


def _object(kind: str, name: str, namespace: str | None = None) -> Resource:
    metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
    token = f"kubernetes:core/v1:{kind}"
    return Resource(PROD, token, name, {"apiVersion": "v1", "kind": kind, "metadata": metadata})
