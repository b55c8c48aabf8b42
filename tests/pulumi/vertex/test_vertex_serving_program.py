"""The Pulumi program registers what endpoints and monitors placed on Vertex AI compile to (under mocks),
each deferred value resolved from what it waits for."""

from __future__ import annotations

import pathlib
import sys

import pytest
from helpers import CLF_API, MINIMAL, compile_text

from mlopsctl.config.target import Target
from mlopsctl.graph import Graph
from mlopsctl.pulumi.program import create
from mlopsctl.pulumi.vertex.resources import PULUMI_TYPES

sys.path.append(str(pathlib.Path(__file__).resolve().parents[1]))  # tests/pulumi: the shared Pulumi mocks
from mocked import Recorder, run  # type: ignore[import-not-found]

DEV = Target("dev", "us-central1")
VERSION = "mlopsctl:vertex/modelVersion:ModelVersion"
DEPLOYMENT = "mlopsctl:vertex/deployment:Deployment"
MONITOR = "mlopsctl:vertex/modelMonitor:ModelMonitor"
ENDPOINT = "gcp:vertex/aiEndpoint:AiEndpoint"
CHANNEL = "projects/acme-demo-dev/notificationChannels/42"
VERSION_NAME = "projects/acme-demo-dev/locations/us-central1/models/demo-clf@3"
CONFIG = (
    CLF_API.replace(
        "      main: {model: clf, version: v1}\n",
        "      main: {model: clf, version: v1}\n"
        "      next: {model: clf, version: v1, machineType: n1-standard-4}\n",
    )
    + """\
    rollout: {strategy: canary, baseline: main, candidate: next, steps: [10, 100]}
    logging: {dataset: logs, samplingRate: 0.5}
data:
  datasets:
    logs: {}
monitors:
  shift:
    type: drift
    endpoint: api
    baseline: {dataset: logs, table: train}
    features: {amount: {kind: numeric}}
    schedule: {cron: "0 3 * * *"}
    actions: {notify: [team]}
  slow: {type: latency, endpoint: api, objective: 300, actions: {notify: [team]}}
alertChannels:
  team: {type: email, address: ml@acme.example}
placement: {endpoints: vertex, monitors: vertex, pipelines: vertex}
"""
)


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> tuple[Graph, Recorder]:
    graph = compile_text(tmp_path_factory.mktemp("vertex"), MINIMAL + CONFIG)[DEV]
    recorder = Recorder(
        outputs={
            PULUMI_TYPES[VERSION]: {"name": VERSION_NAME},
            "gcp:monitoring/notificationChannel:NotificationChannel": {"name": CHANNEL},
        }
    )
    run(lambda: create(graph), recorder, stack="dev-us-central1")
    return graph, recorder


def test_the_endpoint_is_pulumi_gcps_with_its_request_log(program: tuple[Graph, Recorder]) -> None:
    _, recorder = program
    endpoint = recorder.one(ENDPOINT, "api")
    assert endpoint.inputs["name"] == "755688946"
    assert endpoint.inputs["predictRequestResponseLoggingConfig"] == {
        "enabled": True,
        "samplingRate": 0.5,
        "bigqueryDestination": {"outputUri": "bq://acme-demo-dev.logs_dev_us_central1.api_requests"},
    }
    grant = recorder.one("gcp:bigquery/datasetIamMember:DatasetIamMember", "vertex-ai-agent-data-editor-logs")
    assert (
        grant.inputs["member"]
        == "serviceAccount:service-123456789012@gcp-sa-aiplatform.iam.gserviceaccount.com"
    )
    assert grant.urn in endpoint.dependencies


def test_the_deployment_deploys_the_registered_versions_and_splits_traffic(
    program: tuple[Graph, Recorder],
) -> None:
    _, recorder = program
    deployment = recorder.one(PULUMI_TYPES[DEPLOYMENT], "api")
    assert deployment.inputs["endpoint"] == "755688946"
    assert [(m["key"], m["model"], m["machineType"]) for m in deployment.inputs["deployedModels"]] == [
        ("main", VERSION_NAME, "n1-standard-2"),
        ("next", VERSION_NAME, "n1-standard-4"),
    ]
    assert deployment.inputs["trafficSplit"] == {"main": 90, "next": 10}
    urns = {(r.type, r.name): r.urn for r in recorder.resources}
    assert {urns[ENDPOINT, "api"], urns[PULUMI_TYPES[VERSION], "clf@v1"]} <= deployment.dependencies


def test_the_monitor_watches_the_endpoints_logs_and_notifies_the_channels(
    program: tuple[Graph, Recorder],
) -> None:
    graph, recorder = program
    monitor = recorder.one(PULUMI_TYPES[MONITOR], "shift")
    compiled = graph.resources[f"{DEV}/{MONITOR}/shift"].inputs
    assert {k: v for k, v in monitor.inputs.items() if k != "__provider"} == {
        **compiled,
        "model": VERSION_NAME,
        "endpoints": ["projects/acme-demo-dev/locations/us-central1/endpoints/755688946"],
        "notificationChannels": [CHANNEL],
    }
    policy = recorder.one("gcp:monitoring/alertPolicy:AlertPolicy", "slow")
    assert (
        'endpoint_id="755688946"'
        in policy.inputs["conditions"][0]["conditionPrometheusQueryLanguage"]["query"]
    )
    assert policy.inputs["notificationChannels"] == [CHANNEL]


def test_nothing_waits_for_a_cluster(program: tuple[Graph, Recorder]) -> None:
    _, recorder = program
    assert not recorder.by_type("gcp:container/cluster:Cluster")
    assert not recorder.by_type("pulumi:providers:kubernetes")
