"""Inference graphs, predictor services and ports, request logging; every object is valid upstream."""

from __future__ import annotations

import json
import pathlib

import pytest
from helpers import MINIMAL, WITH_DATA, write
from serving_cases import AUTHZ, DEV, GRAPH, ISVC, MODELS, RAW, _endpoint, _graph, _object, _serving
from upstream_schemas import UpstreamSchemas

from mlopsctl.api import validate
from mlopsctl.compiler.serving import predictor_service_ports
from mlopsctl.config.naming import predictor_services
from mlopsctl.config.source import ConfigSource

GRAPH_ENDPOINT = """\
  triage:
    graph:
      steps:
        scale: {model: sk, version: v1}
        embed: {model: hf, version: v1, nodePool: gpu, accelerators: 1}
        score: {model: xgb, version: v1}
"""


def test_graph_endpoint(tmp_path: pathlib.Path) -> None:
    extra = "accelerators:\n  gpu: {type: gpu, accelerator: nvidia-l4}\n"
    graph = _endpoint(tmp_path, GRAPH_ENDPOINT, extra)
    ig = _object(graph, GRAPH, "triage")
    assert ig["metadata"]["annotations"] == {"serving.kserve.io/deploymentMode": RAW}
    assert ig["metadata"]["namespace"] == "demo"
    assert ig["spec"] == {
        "serviceAccountName": "endpoint-triage-dev-usc1",
        "nodes": {
            "root": {
                "routerType": "Sequence",
                "steps": [
                    {"name": "scale", "serviceName": "triage-scale"},
                    {"name": "embed", "serviceName": "triage-embed", "data": "$response"},
                    {"name": "score", "serviceName": "triage-score", "data": "$response"},
                ],
            }
        },
    }
    runtimes = {
        step: _object(graph, ISVC, f"triage-{step}")["spec"]["predictor"]["model"]["runtime"]
        for step in ("scale", "embed", "score")
    }
    assert runtimes == {
        "scale": "kserve-sklearnserver",
        "embed": "kserve-huggingfaceserver",
        "score": "kserve-xgbserver",
    }
    embed = _object(graph, ISVC, "triage-embed")["spec"]["predictor"]
    assert embed["model"]["resources"]["limits"] == {"cpu": "1", "memory": "2Gi", "nvidia.com/gpu": "1"}
    assert (embed["minReplicas"], embed["maxReplicas"]) == (1, 3)
    depends = graph.resources[f"{DEV}/{GRAPH}/triage"].depends_on
    assert {f"{DEV}/{ISVC}/triage-{s}" for s in ("scale", "embed", "score")} <= set(depends)


def test_predictor_services_name_the_services_kserve_creates(tmp_path: pathlib.Path) -> None:
    endpoint = (
        "  api:\n    variants:\n      a: {model: sk, version: v1}\n      b: {model: sk, version: v1}\n"
        "    rollout: {strategy: ab, weights: {a: 50, b: 50}}\n"
    )
    text = MINIMAL + MODELS + "endpoints:\n" + endpoint
    graph = _graph(tmp_path, text)
    config = validate(ConfigSource(write(tmp_path, text), "mlops.yaml", None)).targets[DEV].config
    names = sorted(r.name for r in graph if r.type == ISVC)
    assert predictor_services(config, "api") == [f"{n}-predictor" for n in names]


WITH_STAGES = WITH_DATA.replace("  name: demo\n", "  name: demo\n  stageImage: stages:1\n")
LOGGING = """\
  api:
    variants:
      main: {model: sk, version: v1}
    logging: {dataset: features, table: api_log, samplingRate: 0.25}
"""


def test_request_logging(tmp_path: pathlib.Path) -> None:
    graph = _graph(tmp_path, WITH_STAGES + MODELS + "endpoints:\n" + LOGGING)
    deployment = _object(graph, "kubernetes:apps/v1:Deployment", "api-request-logger")
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["image"] == "stages:1"
    assert container["command"] == ["mlopsctl-stage", "request-logger"]
    [flag, config, port, number] = container["args"]
    assert (flag, port, number) == ("--config", "--port", "8080")
    assert json.loads(config) == {
        "endpoint": "api",
        "samplingRate": 0.25,
        "table": "acme-demo-dev.features_dev_us_central1.api_log",
        "batchSize": 500,
        "flushSeconds": 5,
        "maxPending": 10000,
        "variants": {"api-main": {"model": "sk", "version": "v1"}},
    }
    assert pod["serviceAccountName"] == "endpoint-api-dev-usc1"
    assert pod["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    assert (
        deployment["spec"]["selector"]["matchLabels"].items()
        <= deployment["spec"]["template"]["metadata"]["labels"].items()
    )
    service = _object(graph, "kubernetes:core/v1:Service", "api-request-logger")
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http"}]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    logger = _object(graph, ISVC, "api-main")["spec"]["predictor"]["logger"]
    assert logger == {"mode": "all", "url": "http://api-request-logger.demo.svc.cluster.local"}


HOSTILE = 'x"}} {{ a }}: [b, {c: d}] # e - f: &g *h'


def test_strings_cannot_change_structure(tmp_path: pathlib.Path) -> None:
    endpoint = (
        "  api:\n    variants:\n      main: {model: sk, version: v1}\n    logging: {dataset: features}\n"
    )
    models = MODELS.replace("gs://acme-models/sk/1", json.dumps("gs://acme-models/sk/1?q=" + HOSTILE))
    graph = _graph(tmp_path, WITH_STAGES + models + "endpoints:\n" + endpoint)
    model = _object(graph, ISVC, "api-main")["spec"]["predictor"]["model"]
    assert model["storageUri"] == "gs://acme-models/sk/1?q=" + HOSTILE
    assert set(model) == {
        "modelFormat",
        "runtime",
        "protocolVersion",
        "storageUri",
        "ports",
        "resources",
        "securityContext",
    }


def test_every_serving_object_is_valid_upstream(
    tmp_path: pathlib.Path, upstream_schemas: UpstreamSchemas
) -> None:
    extra = "accelerators:\n  gpu: {type: gpu, accelerator: nvidia-l4, spot: true}\n"
    endpoints = (
        GRAPH_ENDPOINT
        + LOGGING
        + "  grpc-only:\n    protocols: [grpc]\n    protocolVersion: v2\n    variants:\n"
        + "      main: {model: torch, version: v1, autoscaling: {metric: memory, target: 80}}\n"
    )
    text = WITH_STAGES + MODELS + extra + "endpoints:\n" + endpoints
    objects = _serving(_graph(tmp_path, text))
    kinds = sorted({r.type for r in objects})
    assert kinds == [
        "kubernetes:apps/v1:Deployment",
        "kubernetes:core/v1:Service",
        AUTHZ,
        GRAPH,
        ISVC,
    ]
    for resource in objects:
        assert upstream_schemas.validate(dict(resource.inputs)) == [], resource.address
        assert resource.inputs["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "mlopsctl"
        assert resource.inputs["metadata"]["namespace"] == "demo"


@pytest.mark.parametrize(
    ("model", "protocols", "expected"),
    [
        ("trt", "[http, grpc]", {"http": 80, "grpc": 9000}),
        ("sk", "[grpc]", {"grpc": 80}),
        ("torch", "[grpc, http]", {"http": 80, "grpc": 9000}),
        ("xgb", "[http]", {"http": 80}),
    ],
)
def test_predictor_ports(
    tmp_path: pathlib.Path, model: str, protocols: str, expected: dict[str, int]
) -> None:
    version = "    protocolVersion: v2\n" if protocols == "[grpc]" else ""
    main = f"    variants:\n      main: {{model: {model}, version: v1}}\n"
    text = MINIMAL + MODELS + f"endpoints:\n  api:\n    protocols: {protocols}\n{version}{main}"
    validation = validate(ConfigSource(write(tmp_path, text), "mlops.yaml", None))
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    ports = predictor_service_ports(validation.targets[DEV].config, "api", "main")
    assert {protocol: port.number for protocol, port in ports.items()} == expected
