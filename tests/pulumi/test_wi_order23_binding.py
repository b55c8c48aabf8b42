"""Workloads that act as a Google account through Workload Identity start once they can: their Kubernetes
ServiceAccount waits for its Workload Identity binding, its Google account and that account's grants (graph
dependencies, which the Pulumi program honours); what runs as the account waits for the ServiceAccount. A
predictor started earlier fails its storage initializer (no access to the model) and restarts with
backoff. The Kubernetes part of the graph (the gitops and kubernetes targets) is unaffected."""

from __future__ import annotations

import dataclasses

import pytest
from helpers import DEV_ONLY, compile_text
from mocked import Recorder, run

from mlopsctl.compiler.identity import GSA, GSA_IAM_MEMBER, NAMESPACE
from mlopsctl.compiler.serving import INFERENCE_SERVICE
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, address_of
from mlopsctl.output.folders import render_target
from mlopsctl.output.kubernetes import apply_order, kubernetes_part
from mlopsctl.pulumi.program import create

DEV = Target("dev", "us-central1")
CLUSTER = "gcp:container/cluster:Cluster"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
BUCKET_GRANT = "gcp:storage/bucketIAMMember:BucketIAMMember"
CONFIG = (
    DEV_ONLY
    + """\
data:
  buckets:
    models: {}
models:
  clf:
    framework: sklearn
    versions:
      v1: {artifactUri: "gs://${project}-${env}-${region}-models/clf/v1"}
endpoints:
  api:
    variants:
      main: {model: clf, version: v1}
"""
)
KSA = address_of(DEV, SERVICE_ACCOUNT, "endpoint-api-dev-usc1")
BINDING = address_of(DEV, GSA_IAM_MEMBER, "endpoint-api-workload-identity")
ACCOUNT = address_of(DEV, GSA, "endpoint-api")
READS_MODEL = address_of(DEV, BUCKET_GRANT, "endpoint-api-object-viewer-models")
ISVC = address_of(DEV, INFERENCE_SERVICE, "api-main")


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Graph:
    return compile_text(tmp_path_factory.mktemp("wi-order"), CONFIG)[DEV]


@pytest.fixture(scope="module")
def recorder(graph: Graph) -> Recorder:
    recorder = Recorder()
    run(lambda: create(graph), recorder, stack="dev-us-central1")
    return recorder


def test_the_service_account_waits_for_its_binding_which_waits_for_the_cluster(graph: Graph) -> None:
    assert {BINDING, ACCOUNT, READS_MODEL} <= graph.resources.keys()
    assert {BINDING, ACCOUNT, READS_MODEL} <= set(graph.resources[KSA].depends_on)
    [cluster] = graph.of_type(CLUSTER)
    # The binding needs the cluster's Workload Identity pool, not the Kubernetes account.
    assert set(graph.resources[BINDING].depends_on) == {ACCOUNT, cluster.address}
    assert KSA in graph.resources[ISVC].depends_on
    graph.ordered()  # no cycle


def _registered(recorder: Recorder, address: str) -> tuple[int, str, frozenset[str]]:
    """The position of the resource at ``address`` among the registrations, its URN and dependencies."""
    type_, name = address.split("/", 2)[2].rsplit("/", 1)
    [(at, found)] = [(i, r) for i, r in enumerate(recorder.resources) if (r.type, r.name) == (type_, name)]
    return at, found.urn, found.dependencies


def _closure(recorder: Recorder, urn: str) -> set[str]:
    """Every URN that ``urn`` depends on, directly or not."""
    dependencies = {r.urn: r.dependencies for r in recorder.resources}
    found: set[str] = set()
    waiting = [urn]
    while waiting:
        for dependency in dependencies.get(waiting.pop(), frozenset()):
            if dependency not in found:
                found.add(dependency)
                waiting.append(dependency)
    return found


def test_the_inference_service_is_created_after_the_binding_and_the_model_grant(recorder: Recorder) -> None:
    isvc_at, isvc, isvc_needs = _registered(recorder, ISVC)
    _, ksa, ksa_needs = _registered(recorder, KSA)
    binding_at, binding, _ = _registered(recorder, BINDING)
    grant_at, grant, _ = _registered(recorder, READS_MODEL)
    assert ksa in isvc_needs
    assert {binding, grant} <= ksa_needs  # the ServiceAccount's resource options
    assert {binding, grant} <= _closure(recorder, isvc)
    assert max(binding_at, grant_at) < isvc_at


def test_the_kubernetes_part_keeps_only_its_own_dependencies(graph: Graph) -> None:
    part = kubernetes_part(graph)
    assert part.resources[KSA].depends_on == (address_of(DEV, NAMESPACE, "demo"),)
    order = [r.address for r in apply_order(part)]
    assert order.index(KSA) < order.index(ISVC)


def test_the_rendered_manifests_do_not_depend_on_the_google_dependencies(graph: Graph) -> None:
    """Rendering with the ServiceAccounts' Google Cloud dependencies dropped gives the same manifests."""
    stripped = Graph(graph.target, graph.gcp_project)
    for r in graph:
        if r.type == SERVICE_ACCOUNT:
            r = dataclasses.replace(r, depends_on=tuple(d for d in r.depends_on if "/kubernetes:" in d))
        stripped.add(r)
    rendered, plain = render_target(graph, "demo"), render_target(stripped, "demo")
    manifests = sorted(p for p in rendered if p.startswith("manifests/"))
    assert manifests and manifests == sorted(p for p in plain if p.startswith("manifests/"))
    assert [rendered[p] for p in manifests] == [plain[p] for p in manifests]
    assert any("serviceaccount-endpoint-api-dev-usc1" in p for p in manifests)
