"""The Pulumi program under mocks: what the engine receives for every example and target."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Mapping
from typing import Any

import pytest
from conftest import EXAMPLES
from mocked import Recorder, run

from mlopsctl import api
from mlopsctl.compiler.apis import SERVICE, api_of
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource, is_deferred
from mlopsctl.pulumi import vertex
from mlopsctl.pulumi.kube import AUTH_PLUGIN, CLUSTER, NODE_POOL
from mlopsctl.pulumi.program import STATE_OUTPUT, create
from mlopsctl.pulumi.types import InputError
from mlopsctl.pulumi.vertex.resources import PULUMI_TYPES

DEV = Target("dev", "us-central1")
GCP_PROVIDER = "pulumi:providers:gcp"
K8S_PROVIDER = "pulumi:providers:kubernetes"


def _compiled(path: pathlib.Path) -> dict[Target, Graph]:
    validation = api.validate(ConfigSource(path, path.name, None))
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    return api.compile_graphs(validation)


EXAMPLE_GRAPHS = [
    pytest.param(graph, id=f"{path.parent.name}-{target.env}-{target.region}")
    for path in EXAMPLES
    for target, graph in _compiled(path).items()
]


def _urns(recorder: Recorder) -> dict[tuple[str, str], str]:
    return {(r.type, r.name): r.urn for r in recorder.resources}


def _run_graph(graph: Graph, **recorder: Any) -> Recorder:
    found = Recorder(**recorder)
    run(lambda: create(graph), found, stack=f"{graph.target.env}-{graph.target.region}")
    return found


@pytest.mark.parametrize("graph", EXAMPLE_GRAPHS)
def test_every_resource_is_registered_once_with_its_inputs_dependencies_and_protection(
    graph: Graph,
) -> None:
    recorder = _run_graph(graph)
    registered = [r for r in recorder.resources if not r.type.startswith("pulumi:providers:")]
    assert sorted((r.type, r.name) for r in registered) == sorted((_token(r.type), r.name) for r in graph)
    urns = {(_graph_type(t), n): urn for (t, n), urn in _urns(recorder).items()}
    infrastructure = {urns[r.type, r.name] for r in graph if r.type in (CLUSTER, NODE_POOL)}
    addons = {urns[r.type, r.name] for r in graph if r.is_addon}
    (gcp,) = recorder.by_type(GCP_PROVIDER)
    (kubernetes,) = recorder.by_type(K8S_PROVIDER)
    for resource in graph:
        got = recorder.one(_token(resource.type), resource.name)
        deps = {urns[graph.resources[d].type, graph.resources[d].name] for d in resource.depends_on}
        if resource.type in PULUMI_TYPES:  # mlopsctl's Vertex AI providers (tests/pulumi/vertex/)
            deps.add(urns[SERVICE, vertex.API.removesuffix(".googleapis.com")])
            assert got.dependencies == deps, resource.address
            assert got.protect is resource.protect, resource.address
            continue
        if resource.is_kubernetes:
            deps |= infrastructure | addons  # CRDs and webhooks first
        elif resource.is_addon:
            deps |= infrastructure
        elif (api := api_of(resource.type)) is not None:
            deps.add(urns[SERVICE, api.removesuffix(".googleapis.com")])
        assert got.dependencies == deps, resource.address
        assert got.protect is resource.protect, resource.address
        provider = kubernetes if resource.is_kubernetes or resource.is_addon else gcp
        assert got.provider == f"{provider.urn}::{provider.name}-id", resource.address
        # The SDK's Helm Release adds its own 'compat' flag to what it sends.
        sent = {k: v for k, v in got.inputs.items() if not (resource.is_addon and k == "compat")}
        assert _deferred_as_written(resource.inputs, sent) == resource.inputs, resource.address


def _token(graph_type: str) -> str:
    """The type Pulumi registers a graph type as: a dynamic provider's for mlopsctl's own."""
    return PULUMI_TYPES.get(graph_type, graph_type)


def _graph_type(token: str) -> str:
    return next((g for g, t in PULUMI_TYPES.items() if t == token), token)


def _deferred_as_written(written: Any, got: Any) -> Any:
    """``got`` with each value that ``written`` defers to apply time put back as written
    (what they resolve to is tested on its own below); everything else as it arrived."""
    if is_deferred(written):
        return written
    if isinstance(written, dict) and isinstance(got, dict):
        return {k: _deferred_as_written(written[k], v) if k in written else v for k, v in got.items()}
    if isinstance(written, list) and isinstance(got, list) and len(written) == len(got):
        return [_deferred_as_written(w, g) for w, g in zip(written, got, strict=True)]
    return got


@pytest.mark.parametrize("graph", EXAMPLE_GRAPHS)
def test_the_gcp_provider_is_for_the_targets_project_and_region(graph: Graph) -> None:
    (provider,) = _run_graph(graph).by_type(GCP_PROVIDER)
    assert provider.inputs == {"project": graph.gcp_project, "region": graph.target.region}


def test_buckets_arrive_with_the_providers_nested_names() -> None:
    graph = _compiled(EXAMPLES[0].parent.parent / "digits" / "mlops.yaml")[Target("prod", "us-central1")]
    bucket = _run_graph(graph).one("gcp:storage/bucket:Bucket", "models")
    assert bucket.inputs["uniformBucketLevelAccess"] is True
    assert bucket.inputs["publicAccessPrevention"] == "enforced"
    assert bucket.inputs["versioning"] == {"enabled": True}
    assert bucket.inputs["lifecycleRules"] == [
        {"action": {"type": "Delete"}, "condition": {"numNewerVersions": 5, "withState": "ARCHIVED"}}
    ]
    assert bucket.protect is True


def _graph(*resources: tuple[str, str, Mapping[str, Any], tuple[str, ...]]) -> Graph:
    graph = Graph(DEV, "acme-dev")
    for type_, name, inputs, depends_on in resources:
        graph.add(Resource(DEV, type_, name, inputs, tuple(f"{DEV}/{d}" for d in depends_on)))
    return graph


ACCOUNT = "gcp:serviceaccount/account:Account"
MEMBER = "gcp:projects/iAMMember:IAMMember"


def test_deferred_values_resolve_to_outputs_invokes_and_joins() -> None:
    graph = _graph(
        (ACCOUNT, "trainer", {"accountId": "trainer", "project": "acme-dev"}, ()),
        (
            MEMBER,
            "trainer-agent",
            {
                "project": "acme-dev",
                "role": "roles/aiplatform.user",
                "member": {
                    "fn::join": [
                        ":",
                        [
                            "serviceAccount",
                            {"fn::output": {"resource": f"{DEV}/{ACCOUNT}/trainer", "property": "email"}},
                        ],
                    ]
                },
                "condition": {
                    "title": "project",
                    "expression": {
                        "fn::join": [
                            "",
                            [
                                "resource.name == 'projects/",
                                {
                                    "fn::invoke": {
                                        "function": "gcp:organizations/getProject:getProject",
                                        "arguments": {"projectId": "acme-dev"},
                                        "return": "number",
                                    }
                                },
                                "'",
                            ],
                        ]
                    },
                },
            },
            (f"{ACCOUNT}/trainer",),
        ),
    )
    recorder = _run_graph(
        graph,
        outputs={ACCOUNT: {"email": "trainer@acme-dev.iam.gserviceaccount.com"}},
        results={"gcp:organizations/getProject:getProject": {"number": "123456"}},
    )
    member = recorder.one(MEMBER, "trainer-agent")
    assert member.inputs["member"] == "serviceAccount:trainer@acme-dev.iam.gserviceaccount.com"
    assert member.inputs["condition"] == {
        "title": "project",
        "expression": "resource.name == 'projects/123456'",
    }
    assert recorder.calls == [("gcp:organizations/getProject:getProject", {"projectId": "acme-dev"})]
    assert member.dependencies == {recorder.one(ACCOUNT, "trainer").urn}


NAMESPACE = "kubernetes:core/v1:Namespace"
INFERENCE = "kubernetes:serving.kserve.io/v1beta1:InferenceService"


def test_kubernetes_objects_use_the_graphs_cluster_and_wait_for_its_node_pools() -> None:
    graph = _graph(
        (NAMESPACE, "ml", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ml"}}, ()),
        (
            INFERENCE,
            "digits",
            {
                "apiVersion": "serving.kserve.io/v1beta1",
                "kind": "InferenceService",
                "metadata": {"name": "digits", "namespace": "ml"},
                "spec": {"predictor": {"minReplicas": 1}},
            },
            (f"{NAMESPACE}/ml",),
        ),
        (CLUSTER, "ml", {"name": "ml-dev", "location": "us-central1", "initialNodeCount": 1}, ()),
        (
            NODE_POOL,
            "gpu",
            {"cluster": "ml-dev", "nodeConfig": {"machineType": "g2-standard-8"}},
            (f"{CLUSTER}/ml",),
        ),
    )
    recorder = _run_graph(
        graph,
        outputs={CLUSTER: {"endpoint": "10.0.0.2", "masterAuth": {"clusterCaCertificate": "Q0E="}}},
    )
    (provider,) = recorder.by_type(K8S_PROVIDER)
    config = json.loads(provider.inputs["kubeconfig"])
    assert config["clusters"] == [
        {"name": "ml-dev", "cluster": {"server": "https://10.0.0.2", "certificate-authority-data": "Q0E="}}
    ]
    assert config["users"][0]["user"]["exec"]["command"] == AUTH_PLUGIN
    urns = _urns(recorder)
    infrastructure = {urns[CLUSTER, "ml"], urns[NODE_POOL, "gpu"]}
    assert recorder.one(NAMESPACE, "ml").dependencies == infrastructure
    assert recorder.one(INFERENCE, "digits").dependencies == {*infrastructure, urns[NAMESPACE, "ml"]}
    assert recorder.one(INFERENCE, "digits").inputs["spec"] == {"predictor": {"minReplicas": 1}}
    assert recorder.one(NODE_POOL, "gpu").inputs["nodeConfig"] == {"machineType": "g2-standard-8"}


def test_without_a_cluster_kubernetes_uses_the_ambient_kubeconfig() -> None:
    graph = _graph(
        (NAMESPACE, "ml", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ml"}}, ())
    )
    (provider,) = _run_graph(graph).by_type(K8S_PROVIDER)
    assert "kubeconfig" not in provider.inputs


BUCKET = "gcp:storage/bucket:Bucket"


@pytest.mark.parametrize(
    ("type_", "inputs", "message"),
    [
        (
            BUCKET,
            {"name": "b", "location": "EU", "uniformBucketLevelAcess": True},
            "did you mean 'uniformBucketLevelAccess'?",
        ),
        (
            BUCKET,
            {"name": "b", "location": "EU", "versioning": {"enable": True}},
            "gcp:storage/bucket:Bucket/x.versioning: BucketVersioningArgs has no input 'enable'",
        ),
        (
            BUCKET,
            {"name": "b", "location": "EU", "lifecycleRules": [{"action": {"kind": "Delete"}}]},
            "lifecycleRules[0].action: BucketLifecycleRuleActionArgs has no input 'kind'",
        ),
        (
            NAMESPACE,
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x", "label": {}}},
            "ObjectMetaArgs has no input 'label'",
        ),
        (
            INFERENCE,
            {
                "apiVersion": "serving.kserve.io/v1beta1",
                "kind": "InferenceService",
                "metadata": {},
                "status": {},
            },
            "not ['status']",
        ),
        ("gcp:storage/bucketz:Bucketz", {}, "gcp has no resource type gcp:storage/bucketz:Bucketz"),
        (BUCKET, {"name": {"fn::split": ["-", "a-b"]}}, "unknown deferred value 'fn::split'"),
        (
            BUCKET,
            {"name": {"fn::output": {"resource": "dev/us-central1/x", "property": "id"}}},
            "dev/us-central1/x is not created before its use",
        ),
    ],
    ids=[
        "top-level",
        "nested",
        "in-a-list",
        "kubernetes",
        "custom-resource",
        "type",
        "deferred",
        "output-order",
    ],
)
def test_a_key_the_provider_does_not_take_fails_loudly(
    type_: str, inputs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InputError, match=None) as caught:
        _run_graph(_graph((type_, "x", inputs, ())))
    assert message in str(caught.value)


def test_the_state_is_exported_for_the_next_plan() -> None:
    graph = _graph((ACCOUNT, "a", {"accountId": "a"}, ()))
    recorder = Recorder()
    run(lambda: create(graph, '{"resources": []}'), recorder)
    assert recorder.exports == {STATE_OUTPUT: '{"resources": []}'}
