"""The kubernetes target applies custom resources only once their CRD is established and served."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
from kube_cluster import PROD, FakeClock, MemoryStore
from kubefake import FakeApiServer, install
from kubernetes_cases import SSA, _object

from mlopsctl.graph import Graph, Resource
from mlopsctl.output import ApplyError, Outcome, Release
from mlopsctl.output.kubernetes import CRD, KubernetesTarget
from mlopsctl.output.kubewait import CRD_TIMEOUT
from mlopsctl.plan.diff import diff_plan

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
WIDGETS = "/apis/example.com/v1/namespaces/shop/widgets"
CRD_ADDRESS = f"prod/us-central1/{CRD}/widgets.example.com"
GET_CRD = f"GET {CRDS}/widgets.example.com"


def _widgets_crd() -> dict[str, Any]:
    schema = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
            "versions": [
                {"name": "v1", "served": True, "storage": True, "schema": schema},
                {"name": "v1alpha1", "served": False, "storage": False, "schema": schema},
            ],
        },
    }


def _graph() -> Graph:
    """A namespace, the CRD of Widgets and one Widget in it."""
    graph = Graph(PROD, "acme-digits-prod")
    graph.add(_object("Namespace", "shop"))
    graph.add(Resource(PROD, CRD, "widgets.example.com", _widgets_crd()))
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w1", "namespace": "shop"},
    }
    graph.add(Resource(PROD, "kubernetes:example.com/v1:Widget", "w1", {**widget, "spec": {"size": 3}}))
    return graph


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> FakeApiServer:
    """A cluster without the Widget CRD."""
    fake = FakeApiServer([("v1", "Namespace"), ("apiextensions.k8s.io/v1", "CustomResourceDefinition")])
    install(monkeypatch, fake)
    return fake


def _apply(store: MemoryStore, kubeconfig: pathlib.Path, clock: FakeClock) -> Outcome:
    graph = _graph()
    target = KubernetesTarget(lambda: store, kubeconfig=str(kubeconfig), clock=clock.clock)
    target.applied("digits")
    release = Release("digits", {PROD: graph}, {PROD: "h"}, None)
    return target.apply(diff_plan("digits", {PROD: graph}, {}), release, ())


def test_a_custom_resource_is_applied_once_its_crd_is_established_and_its_kind_discovered(
    store: MemoryStore, cluster: FakeApiServer, kubeconfig: pathlib.Path, fake_clock: FakeClock
) -> None:
    cluster.crd_polls = 3
    outcome = _apply(store, kubeconfig, fake_clock)
    assert outcome.detail.startswith("Applied 3 objects of prod/us-central1")
    assert cluster.objects[("example.com/v1", "widgets", "shop", "w1")]["spec"] == {"size": 3}
    created = cluster.requests.index(f"PATCH {CRDS}/widgets.example.com{SSA}")
    widget = cluster.requests.index(f"PATCH {WIDGETS}/w1{SSA}")
    # three reads answer it is not established yet, the fourth that it is; the discoverer, which had
    # read /apis before the CRD existed, misses the kind and discovers again
    assert cluster.requests[created + 1 : created + 8] == [
        *[GET_CRD] * 4,
        "GET /version",
        "GET /apis",
        "GET /apis/example.com/v1",
    ]
    assert "GET /apis" in cluster.requests[:created]
    assert created + 8 <= widget
    assert fake_clock.slept == [1.0, 1.0, 1.0]
    assert store.states[("digits", PROD)] is not None


def test_an_established_crd_is_read_once_and_not_waited_for(
    store: MemoryStore, cluster: FakeApiServer, kubeconfig: pathlib.Path, fake_clock: FakeClock
) -> None:
    _apply(store, kubeconfig, fake_clock)
    assert fake_clock.slept == []
    crd = cluster.objects[("apiextensions.k8s.io/v1", "customresourcedefinitions", "", "widgets.example.com")]
    assert [c["status"] for c in crd["status"]["conditions"]] == ["True", "True"]
    cluster.clear()
    _apply(store, kubeconfig, fake_clock)
    assert cluster.requests.count(GET_CRD) == 1
    assert fake_clock.slept == []


def test_a_crd_never_established_fails_the_apply_with_its_conditions(
    store: MemoryStore, cluster: FakeApiServer, kubeconfig: pathlib.Path, fake_clock: FakeClock
) -> None:
    cluster.crd_polls = 10**6
    with pytest.raises(ApplyError) as caught:
        _apply(store, kubeconfig, fake_clock)
    assert str(caught.value) == (
        f"CustomResourceDefinition widgets.example.com is not established after {CRD_TIMEOUT:.0f}s "
        "(Established=False (Installing: the initial names have been accepted); "
        "NamesAccepted=True (NoConflicts: no conflicts found)); 1 of 3 objects were applied "
        f"(the last {CRD_ADDRESS}), nothing was pruned and the state was not recorded: see why in its "
        "conditions ('kubectl get customresourcedefinition widgets.example.com -o yaml'), then apply again"
    )
    assert fake_clock.now == CRD_TIMEOUT
    assert not any(r.startswith(f"PATCH {WIDGETS}") for r in cluster.requests)
    assert (store.states, store.locks) == ({}, {})


def test_a_crd_whose_names_are_taken_fails_at_once(
    store: MemoryStore, cluster: FakeApiServer, kubeconfig: pathlib.Path, fake_clock: FakeClock
) -> None:
    cluster.name_conflicts.add("widgets.example.com")
    with pytest.raises(ApplyError) as caught:
        _apply(store, kubeconfig, fake_clock)
    assert str(caught.value) == (
        "the API server does not accept the names of CustomResourceDefinition widgets.example.com "
        "(Established=False (NotAccepted: not all names are accepted); "
        'NamesAccepted=False (NameConflict: "widgets" is already in use)); 1 of 3 objects were applied '
        f"(the last {CRD_ADDRESS}), nothing was pruned and the state was not recorded: rename its kind or "
        "plural so that no other CustomResourceDefinition of the group uses them"
    )
    assert fake_clock.slept == []
    assert cluster.requests.count(GET_CRD) == 1


def test_an_established_crd_whose_kind_discovery_never_serves_fails_the_apply(
    store: MemoryStore, cluster: FakeApiServer, kubeconfig: pathlib.Path, fake_clock: FakeClock
) -> None:
    cluster.undiscovered.add("Widget")
    with pytest.raises(ApplyError) as caught:
        _apply(store, kubeconfig, fake_clock)
    assert str(caught.value) == (
        "CustomResourceDefinition widgets.example.com is established, but the API server's discovery does "
        f"not serve Widget of example.com/v1 after {CRD_TIMEOUT:.0f}s; 1 of 3 objects were applied "
        f"(the last {CRD_ADDRESS}), nothing was pruned and the state was not recorded: check with "
        "'kubectl api-resources --api-group example.com', then apply again"
    )
    assert fake_clock.now == CRD_TIMEOUT
    assert cluster.requests.count(GET_CRD) == 1
    assert cluster.requests.count("GET /apis") == 1 + CRD_TIMEOUT + 1  # discovered anew at each look
