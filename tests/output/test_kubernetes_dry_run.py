"""The kubernetes target's dry run, and an object the server rejects."""

from __future__ import annotations

import pathlib

import pytest
from kube_cluster import MemoryStore
from kubefake import DIGITS_PROD_CONTEXT, FakeApiServer
from kubernetes_cases import DRY_SSA, GRAPH, OBJECTS, SSA, apply, object_path, preview

from mlopsctl.output import ApplyError
from mlopsctl.output.kubernetes import apply_order


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
