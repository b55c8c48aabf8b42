"""Flagger's Canary: valid against Flagger 1.44's CRD, logged by KServe's agent, asking our Prometheus."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
from helpers import STAGED_DATA, compile_text
from upstream_schemas import UpstreamSchemas

from mlopsctl.compiler.metrics import IN_CLUSTER_QUERY_URL, MANAGED_QUERY_URL
from mlopsctl.compiler.serving import LOGGER_AGENT_PORT
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph

DEV = Target("dev", "us-central1")
CANARY = "kubernetes:flagger.app/v1beta1:Canary"
SERVICE = "kubernetes:core/v1:Service"
ISVC = "kubernetes:serving.kserve.io/v1beta1:InferenceService"
MODELS = """\
models:
  sk:
    framework: sklearn
    versions: {v1: {artifactUri: gs://acme-models/sk/1}, v2: {artifactUri: gs://acme-models/sk/2}}
  trt:
    framework: onnx
    versions: {v1: {artifactUri: gs://acme-models/trt/1}, v2: {artifactUri: gs://acme-models/trt/2}}
"""
ROLLOUT = {
    "strategy": "canary",
    "baseline": "a",
    "candidate": "b",
    "steps": [10, 50, 100],
    "analysis": {"interval": "2m", "maxFailedChecks": 3},
}


def _graph(
    tmp_path: pathlib.Path,
    *,
    model: str = "sk",
    protocols: list[str] | None = None,
    logging: bool = False,
    platform: str = "",
) -> Graph:
    endpoint: dict[str, Any] = {
        "variants": {"a": {"model": model, "version": "v1"}, "b": {"model": model, "version": "v2"}},
        "rollout": ROLLOUT,
        "protocols": protocols or ["http"],
    }
    if protocols == ["grpc"]:
        endpoint["protocolVersion"] = "v2"
    if logging:
        endpoint["logging"] = {"dataset": "features"}
    text = STAGED_DATA + MODELS + platform + f"endpoints: {json.dumps({'ep': endpoint})}\n"
    return compile_text(tmp_path, text)[DEV]


def _get(graph: Graph, type_token: str, name: str) -> dict[str, Any]:
    return dict(graph.resources[f"{DEV}/{type_token}/{name}"].inputs)


CASES = {
    "http": {},
    "http logged": {"logging": True},
    "grpc": {"protocols": ["grpc"]},
    "triton grpc": {"model": "trt", "protocols": ["grpc"]},
    "triton http logged": {"model": "trt", "logging": True},
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_canary_and_its_target_are_valid_against_flagger_1_44(
    tmp_path: pathlib.Path, upstream_schemas: UpstreamSchemas, case: dict[str, Any]
) -> None:
    graph = _graph(tmp_path, **case)
    canary = _get(graph, CANARY, "ep")
    assert upstream_schemas.validate(canary) == []
    assert upstream_schemas.validate(_get(graph, SERVICE, "ep")) == []
    assert canary["apiVersion"] == "flagger.app/v1beta1"


def test_the_canary_traffic_policy_has_only_the_connection_limits_the_crd_accepts(
    tmp_path: pathlib.Path, upstream_schemas: UpstreamSchemas
) -> None:
    canary = _get(_graph(tmp_path), CANARY, "ep")
    policy = canary["spec"]["service"]["trafficPolicy"]
    assert list(policy["connectionPool"]) == ["http"]
    assert policy["connectionPool"]["http"]["http1MaxPendingRequests"] == 1000
    assert policy["tls"] == {"mode": "ISTIO_MUTUAL"}
    # The wire: what the DestinationRules of mlopsctl's own routes carry is refused in a Canary.
    policy["connectionPool"]["tcp"] = {"maxConnections": 1000}
    [error] = upstream_schemas.validate(canary)
    assert "connectionPool.tcp" in error


@pytest.mark.parametrize(
    ("case", "target_port"),
    [
        ({}, 8080),
        ({"logging": True}, LOGGER_AGENT_PORT),
        ({"model": "trt", "logging": True}, LOGGER_AGENT_PORT),
        ({"protocols": ["grpc"]}, 8081),
        ({"model": "trt", "protocols": ["grpc"]}, 9000),
    ],
)
def test_canary_traffic_passes_the_logger_agent_when_the_endpoint_logs(
    tmp_path: pathlib.Path, case: dict[str, Any], target_port: int
) -> None:
    """Flagger copies the target Service into -primary and -canary: its targetPort is where all
    of the endpoint's traffic lands, so with logging it must be KServe's agent, not the model."""
    graph = _graph(tmp_path, **case)
    target = _get(graph, SERVICE, "ep")["spec"]
    [port] = target["ports"]
    assert (port["port"], port["targetPort"]) == (80, target_port)
    assert target["selector"] == {"app": "isvc.ep-b-predictor"}
    service = _get(graph, CANARY, "ep")["spec"]["service"]
    assert (service["port"], service["portName"], service["targetPort"]) == (80, port["name"], target_port)
    candidate = _get(graph, ISVC, "ep-b")["spec"]["predictor"]
    # KServe adds its agent only when the predictor has a logger; the model server keeps its port.
    assert ("logger" in candidate) == (target_port == LOGGER_AGENT_PORT)
    first = candidate["model"]["ports"][0]
    assert first["name"] == port["name"]
    if target_port != LOGGER_AGENT_PORT:
        assert first["containerPort"] == target_port


@pytest.mark.parametrize(
    ("platform", "url"),
    [("", MANAGED_QUERY_URL), ("platform: {metrics: in-cluster}\n", IN_CLUSTER_QUERY_URL)],
)
def test_the_metric_gates_ask_the_clusters_prometheus(
    tmp_path: pathlib.Path, platform: str, url: str
) -> None:
    canary = _get(_graph(tmp_path, platform=platform), CANARY, "ep")["spec"]
    assert canary["metricsServer"] == url
    success, latency = canary["analysis"]["metrics"]
    where = 'reporter="source",destination_service_namespace="demo",destination_service_name="ep-canary"'
    if url == MANAGED_QUERY_URL:  # Managed Prometheus holds every cluster's series of the project
        where += ',cluster="demo-dev-usc1"'
    assert success["query"] == (
        f'sum(rate(istio_requests_total{{{where},response_code!~"5.*"}}[120s])) / '
        f"sum(rate(istio_requests_total{{{where}}}[120s])) * 100"
    )
    assert latency["query"] == (
        "histogram_quantile(0.99, sum(rate("
        f"istio_request_duration_milliseconds_bucket{{{where}}}[120s])) by (le))"
    )
    # Flagger renders inline queries as Go templates: a "{{" would be read as an action.
    assert all("{{" not in m["query"] for m in (success, latency))
