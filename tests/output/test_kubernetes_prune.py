"""What the kubernetes target prunes: only unowned objects with all of its labels."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
from kube_cluster import DIGITS, PROD, MemoryStore
from kubefake import FakeApiServer
from kubernetes_cases import FLAGGER_OWNER, GRAPH, KFP, LABELS, apply, without_schedule

from mlopsctl.output.kubernetes import api_version_kind, prunable


def _service(name: str, labels: dict[str, str], owners: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": "digits", "labels": labels}
    if owners:
        metadata["ownerReferences"] = owners
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": {}}


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
