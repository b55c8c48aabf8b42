"""The Pulumi program registers the graph's Vertex AI resources as dynamic resources (under mocks)."""

from __future__ import annotations

import base64
import dataclasses
import pathlib
import sys
from typing import Any

import dill  # type: ignore[import-untyped]
import pulumi
import pytest

from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource, fn_output
from mlopsctl.pulumi.program import create
from mlopsctl.pulumi.types import InputError
from mlopsctl.pulumi.vertex.deployment import DeploymentProvider
from mlopsctl.pulumi.vertex.model import ModelVersionProvider
from mlopsctl.pulumi.vertex.resources import PULUMI_TYPES

sys.path.append(str(pathlib.Path(__file__).resolve().parents[1]))  # tests/pulumi: the shared Pulumi mocks
import mocked  # type: ignore[import-not-found]
from mocked import Recorder, run

DEV = Target("dev", "us-central1")
SERVICE = "gcp:projects/service:Service"
ENDPOINT = "gcp:vertex/aiEndpoint:AiEndpoint"
VERSION = "mlopsctl:vertex/modelVersion:ModelVersion"
DEPLOYMENT = "mlopsctl:vertex/deployment:Deployment"
PROVIDER_KEY = "__provider"


def _version(name: str, artifact: str, aliases: list[str]) -> dict[str, Any]:
    return {
        "project": "acme-dev",
        "location": "us-central1",
        "modelId": "acme-dev-fraud",
        "displayName": "fraud",
        "artifactUri": artifact,
        "containerImageUri": "us-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-3:latest",
        "containerPorts": [8080],
        "versionAliases": aliases,
        "labels": {"variant": name},
    }


def _address(type_: str, name: str) -> str:
    return f"{DEV}/{type_}/{name}"


def _graph() -> Graph:
    graph = Graph(DEV, "acme-dev")
    resources = [
        (SERVICE, "aiplatform", {"project": "acme-dev", "service": "aiplatform.googleapis.com"}, ()),
        (ENDPOINT, "fraud", {"name": "1234567890", "displayName": "fraud", "location": "us-central1"}, ()),
        (VERSION, "fraud-blue", _version("blue", "gs://acme-models/fraud/3/", ["default"]), ()),
        (VERSION, "fraud-green", _version("green", "gs://acme-models/fraud/4/", ["candidate"]), ()),
        (
            DEPLOYMENT,
            "fraud",
            {
                "project": "acme-dev",
                "location": "us-central1",
                "endpoint": fn_output(_address(ENDPOINT, "fraud"), "name"),
                "deployedModels": [
                    {
                        "key": variant,
                        "model": fn_output(_address(VERSION, f"fraud-{variant}"), "name"),
                        "machineType": "n1-standard-4",
                        "minReplicaCount": 1,
                        "maxReplicaCount": 3,
                    }
                    for variant in ("blue", "green")
                ],
                "trafficSplit": {"blue": 90, "green": 10},
            },
            (f"{ENDPOINT}/fraud", f"{VERSION}/fraud-blue", f"{VERSION}/fraud-green"),
        ),
    ]
    for type_, name, inputs, depends_on in resources:
        graph.add(Resource(DEV, type_, name, inputs, tuple(f"{DEV}/{d}" for d in depends_on)))
    return graph


def _run(graph: Graph) -> Recorder:
    recorder = Recorder(
        outputs={
            PULUMI_TYPES[VERSION]: {"name": "projects/acme-dev/locations/us-central1/models/acme-dev-fraud@7"}
        }
    )
    run(lambda: create(graph), recorder, stack="dev-us-central1")
    return recorder


def test_model_versions_and_the_deployment_are_dynamic_resources_with_the_graphs_inputs() -> None:
    graph = _graph()
    recorder = _run(graph)
    for name in ("fraud-blue", "fraud-green"):
        got = recorder.one(PULUMI_TYPES[VERSION], name)
        sent = {k: v for k, v in got.inputs.items() if k != PROVIDER_KEY}
        assert sent == graph.resources[_address(VERSION, name)].inputs
    deployment = recorder.one(PULUMI_TYPES[DEPLOYMENT], "fraud")
    assert deployment.inputs["endpoint"] == "1234567890"
    assert [m["model"] for m in deployment.inputs["deployedModels"]] == [
        "projects/acme-dev/locations/us-central1/models/acme-dev-fraud@7"
    ] * 2
    assert deployment.inputs["trafficSplit"] == {"blue": 90, "green": 10}


def test_they_wait_for_what_they_use_and_the_vertex_ai_api_and_carry_their_own_provider() -> None:
    recorder = _run(_graph())
    urn = {(r.type, r.name): r.urn for r in recorder.resources}
    api = urn[SERVICE, "aiplatform"]
    versions = {urn[PULUMI_TYPES[VERSION], name] for name in ("fraud-blue", "fraud-green")}
    deployment = recorder.one(PULUMI_TYPES[DEPLOYMENT], "fraud")
    assert deployment.dependencies == {api, urn[ENDPOINT, "fraud"], *versions}
    assert recorder.one(PULUMI_TYPES[VERSION], "fraud-blue").dependencies == {api}
    assert deployment.provider == ""  # the dynamic provider, not the gcp one
    (gcp,) = recorder.by_type("pulumi:providers:gcp")
    assert recorder.one(ENDPOINT, "fraud").provider == f"{gcp.urn}::{gcp.name}-id"


@pytest.mark.parametrize(
    ("name", "provider"), [("fraud-blue", ModelVersionProvider), ("fraud", DeploymentProvider)]
)
def test_the_provider_is_pickled_by_reference_without_clients_or_settings(name: str, provider: type) -> None:
    (found,) = [r for r in _run(_graph()).resources if r.name == name and r.type.startswith("pulumi-python")]
    pickled = base64.b64decode(found.inputs[PROVIDER_KEY])
    assert provider.__module__.encode() in pickled and len(pickled) < 200
    restored = dill.loads(pickled)
    assert type(restored) is provider and vars(restored) == {}


def test_protection_reaches_the_dynamic_resource() -> None:
    graph = _graph()
    address = _address(VERSION, "fraud-blue")
    graph.resources[address] = dataclasses.replace(graph.resources[address], protect=True)
    assert _run(graph).one(PULUMI_TYPES[VERSION], "fraud-blue").protect is True


@pytest.mark.parametrize(
    ("type_", "inputs", "message"),
    [
        (VERSION, {"project": "p", "artifactURI": "gs://b/"}, "ModelVersion has no input 'artifactURI'"),
        (VERSION, {"project": "p", "versionId": "3"}, "ModelVersion has no input 'versionId'"),
        ("mlopsctl:vertex/batchJob:BatchJob", {}, "no such Vertex AI resource type"),
    ],
    ids=["misspelt", "an-output", "type"],
)
def test_an_input_the_provider_does_not_take_fails_before_anything_is_registered(
    type_: str, inputs: dict[str, Any], message: str
) -> None:
    graph = Graph(DEV, "acme-dev")
    graph.add(Resource(DEV, type_, "x", inputs))
    with pytest.raises(InputError) as caught:
        _run(graph)
    assert message in str(caught.value)


class _IgnoredChanges(mocked._Monitor):  # type: ignore[misc]
    """Also records the inputs each registration tells Pulumi to leave alone."""

    def __init__(self, recorder: Recorder) -> None:
        super().__init__(recorder)
        self.ignored: dict[tuple[str, str], list[str]] = {}

    def RegisterResource(self, request: Any) -> Any:
        self.ignored[request.type, request.name] = list(request.ignoreChanges)
        return super().RegisterResource(request)


@pytest.mark.parametrize("with_deployment", [True, False])
def test_the_endpoints_traffic_split_is_left_to_its_deployment(with_deployment: bool) -> None:
    graph = _graph()
    if not with_deployment:
        del graph.resources[_address(DEPLOYMENT, "fraud")]
    monitor = _IgnoredChanges(Recorder())
    pulumi.runtime.set_mocks(monitor.recorder, project="demo", stack="dev-us-central1", monitor=monitor)

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def registered() -> Any:
        return pulumi.Output.all(*[r.urn for r in create(graph).values()])

    registered()
    assert monitor.ignored[PULUMI_TYPES[VERSION], "fraud-blue"] == []
    assert monitor.ignored[ENDPOINT, "fraud"] == (["trafficSplit"] if with_deployment else [])
