"""The kubernetes target applies server side in dependency order, under the lock of its target."""

from __future__ import annotations

import contextlib
import pathlib
from collections.abc import Iterator

import pytest
from kube_cluster import PROD, MemoryStore, prod_graph, validation_of
from kubefake import DIGITS_PROD_CONTEXT, FakeApiServer, write_kubeconfig
from kubernetes_cases import (
    GET_CREDENTIALS,
    GRAPH,
    OBJECTS,
    RBAC,
    SSA,
    _object,
    apply,
    as_applied,
    assert_first_apply,
    mlopsctls,
    without_schedule,
)

from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource
from mlopsctl.output import ApplyError
from mlopsctl.output.kubernetes import apply_order, kubernetes_part
from mlopsctl.state import state_from_graph
from mlopsctl.state.store import LockInfo


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
