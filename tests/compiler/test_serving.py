from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
from conftest import EXAMPLES
from helpers import MINIMAL, WITH_DATA, write
from upstream_schemas import UpstreamSchemas

from mlopsctl.api import compile_graphs, validate
from mlopsctl.compiler.metrics import MANAGED_QUERY_URL as PROMETHEUS_URL
from mlopsctl.compiler.provenance import PROVENANCE, without
from mlopsctl.compiler.serving import predictor_service_ports
from mlopsctl.config.diagnostics import Severity
from mlopsctl.config.naming import predictor_services
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource

DEV = Target("dev", "us-central1")
PROD = Target("prod", "us-central1")
ISVC = "kubernetes:serving.kserve.io/v1beta1:InferenceService"
GRAPH = "kubernetes:serving.kserve.io/v1alpha1:InferenceGraph"
AUTHZ = "kubernetes:security.istio.io/v1:AuthorizationPolicy"
RAW = "RawDeployment"
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
SPOT_TOLERATION = {
    "key": "cloud.google.com/gke-spot",
    "operator": "Equal",
    "value": "true",
    "effect": "NoSchedule",
}
MODELS = """\
models:
  trt: {framework: tensorrt, versions: {v1: {artifactUri: gs://acme-models/trt/1}}}
  tf: {framework: tensorflow, versions: {v1: {artifactUri: gs://acme-models/tf/1}}}
  torch: {framework: pytorch, versions: {v1: {artifactUri: gs://acme-models/torch/1}}}
  onnx: {framework: onnx, versions: {v1: {artifactUri: gs://acme-models/onnx/1}}}
  sk: {framework: sklearn, versions: {v1: {artifactUri: gs://acme-models/sk/1}}}
  xgb: {framework: xgboost, versions: {v1: {artifactUri: gs://acme-models/xgb/1}}}
  hf: {framework: huggingface, versions: {v1: {artifactUri: gs://acme-models/hf/1}}}
"""


def _graph(tmp_path: pathlib.Path, text: str, target: Target = DEV) -> Graph:
    validation = validate(ConfigSource(write(tmp_path, text), "mlops.yaml", None))
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    return compile_graphs(validation)[target]


def _object(graph: Graph, type_: str, name: str) -> dict[str, Any]:
    """The object's inputs without its provenance annotations (tests/compiler/test_provenance.py)."""
    return without(type_, graph.resources[f"{graph.target}/{type_}/{name}"].inputs, PROVENANCE)


def _serving(graph: Graph) -> list[Resource]:
    kinds = (ISVC, GRAPH, "kubernetes:apps/v1:Deployment", "kubernetes:core/v1:Service", AUTHZ)
    return [r for r in graph if r.type in kinds and r.inputs["metadata"]["namespace"] == "demo"]


def _endpoint(tmp_path: pathlib.Path, endpoint: str, extra: str = "") -> Graph:
    return _graph(tmp_path, MINIMAL + MODELS + extra + "endpoints:\n" + endpoint)


def test_digits_variant_is_triton_v2_on_l4_with_http_grpc_and_gpu_autoscaling() -> None:
    example = next(e for e in EXAMPLES if e.parent.name == "digits")
    graph = compile_graphs(validate(ConfigSource(example, str(example), None)))[PROD]
    isvc = _object(graph, ISVC, "digits-baseline")
    assert isvc["metadata"]["annotations"] == {
        "serving.kserve.io/deploymentMode": RAW,
        "serving.kserve.io/autoscalerClass": "keda",
    }
    assert isvc["metadata"]["labels"]["mlopsctl.dev/variant"] == "baseline"
    predictor = isvc["spec"]["predictor"]
    amounts = {"cpu": "2", "memory": "8Gi", "nvidia.com/gpu": "1"}
    assert predictor["model"] == {
        "modelFormat": {"name": "onnx"},
        "runtime": "kserve-tritonserver",
        "protocolVersion": "v2",
        "storageUri": "gs://digits-prod-us-central1-models/digits/v1",
        "ports": [{"name": "http", "containerPort": 8080}, {"name": "grpc", "containerPort": 9000}],
        "resources": {"requests": amounts, "limits": amounts},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    # The prod overlay turns spot off for the serving pool, and raises the replicas.
    assert predictor["nodeSelector"] == {"cloud.google.com/gke-nodepool": "l4-serve"}
    assert predictor["tolerations"] == [GPU_TOLERATION]
    assert (predictor["minReplicas"], predictor["maxReplicas"]) == (2, 8)
    [metric] = predictor["autoScaling"]["metrics"]
    assert metric["type"] == "External"
    assert metric["external"]["target"] == {"type": "Value", "value": "70"}
    assert metric["external"]["metric"]["serverAddress"] == PROMETHEUS_URL
    assert metric["external"]["metric"]["query"] == (
        "sum(avg by (pod_name) (kubernetes_io:container_accelerator_duty_cycle{"
        'monitored_resource="k8s_container",namespace_name="digits",pod_name=~"digits-baseline-predictor-.*",'
        'cluster_name="digits-prod-usc1"}))'  # Managed Prometheus holds every cluster's series
    )
    assert predictor["serviceAccountName"] == "endpoint-digits-prod-usc1"
    assert predictor["securityContext"]["runAsNonRoot"] is True
    assert predictor["logger"] == {
        "mode": "all",
        "url": "http://digits-request-logger.digits.svc.cluster.local",
    }
    address = graph.resources[f"{PROD}/{ISVC}/digits-baseline"].address
    assert set(graph.resources[address].depends_on) == {
        f"{PROD}/kubernetes:core/v1:Namespace/digits",
        f"{PROD}/kubernetes:core/v1:ServiceAccount/endpoint-digits-prod-usc1",
    }


def test_dev_spot_pool_is_tolerated() -> None:
    example = next(e for e in EXAMPLES if e.parent.name == "digits")
    graph = compile_graphs(validate(ConfigSource(example, str(example), None)))[DEV]
    predictor = _object(graph, ISVC, "digits-candidate")["spec"]["predictor"]
    assert predictor["tolerations"] == [GPU_TOLERATION, SPOT_TOLERATION]


@pytest.mark.parametrize(
    ("model", "runtime", "extra", "expected"),
    [
        ("trt", None, "", ("tensorrt", "kserve-tritonserver", "v2", 8080)),
        ("tf", None, "", ("tensorflow", "kserve-tritonserver", "v2", 8080)),
        ("torch", None, "", ("pytorch", "kserve-tritonserver", "v2", 8080)),
        ("onnx", None, "", ("onnx", "kserve-tritonserver", "v2", 8080)),
        ("onnx", "onnx", "", ("onnx", "kserve-tritonserver", "v2", 8080)),
        ("tf", "tensorflow", "", ("tensorflow", "kserve-tensorflow-serving", "v1", 8080)),
        ("torch", "pytorch", "", ("pytorch", "kserve-torchserve", "v1", 8080)),
        ("torch", "pytorch", "    protocolVersion: v2\n", ("pytorch", "kserve-torchserve", "v2", 8080)),
        ("sk", None, "", ("sklearn", "kserve-sklearnserver", "v1", 8080)),
        ("xgb", None, "", ("xgboost", "kserve-xgbserver", "v1", 8080)),
        ("hf", None, "", ("huggingface", "kserve-huggingfaceserver", "v1", 8080)),
        (
            "hf",
            "huggingface",
            "    protocolVersion: v2\n",
            ("huggingface", "kserve-huggingfaceserver", "v2", 8080),
        ),
    ],
)
def test_runtime_and_protocol_per_framework(
    tmp_path: pathlib.Path, model: str, runtime: str | None, extra: str, expected: tuple[str, str, str, int]
) -> None:
    chosen = f"    runtime: {runtime}\n" if runtime else ""
    graph = _endpoint(
        tmp_path, f"  api:\n{chosen}{extra}    variants:\n      main: {{model: {model}, version: v1}}\n"
    )
    m = _object(graph, ISVC, "api-main")["spec"]["predictor"]["model"]
    assert (
        m["modelFormat"]["name"],
        m["runtime"],
        m["protocolVersion"],
        m["ports"][0]["containerPort"],
    ) == expected
    assert m["ports"] == [{"name": "http", "containerPort": 8080}]


@pytest.mark.parametrize(
    ("model", "protocols", "expected_version", "expected_ports"),
    [
        ("sk", "[grpc]", "grpc-v2", [{"name": "grpc", "containerPort": 8081}]),
        (
            "trt",
            "[grpc, http]",
            "v2",
            [{"name": "http", "containerPort": 8080}, {"name": "grpc", "containerPort": 9000}],
        ),
        ("trt", "[grpc]", "grpc-v2", [{"name": "grpc", "containerPort": 9000}]),
    ],
)
def test_grpc_ports_and_protocol(
    tmp_path: pathlib.Path, model: str, protocols: str, expected_version: str, expected_ports: list[Any]
) -> None:
    version = "    protocolVersion: v2\n" if model == "sk" else ""
    main = f"    variants:\n      main: {{model: {model}, version: v1}}\n"
    endpoint = f"  api:\n    protocols: {protocols}\n{version}{main}"
    m = _object(_endpoint(tmp_path, endpoint), ISVC, "api-main")["spec"]["predictor"]["model"]
    assert (m["protocolVersion"], m["ports"]) == (expected_version, expected_ports)


@pytest.mark.parametrize(
    ("autoscaling", "annotations", "metric"),
    [
        (
            "{metric: cpu, target: 65.4}",
            {"serving.kserve.io/deploymentMode": RAW},
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 65}},
            },
        ),
        (
            "{metric: memory, target: 0.2}",
            {"serving.kserve.io/deploymentMode": RAW},
            {
                "type": "Resource",
                "resource": {"name": "memory", "target": {"type": "Utilization", "averageUtilization": 1}},
            },
        ),
        (
            "{metric: rps, target: 2.5}",
            {"serving.kserve.io/deploymentMode": RAW, "serving.kserve.io/autoscalerClass": "keda"},
            {
                "type": "External",
                "external": {
                    "metric": {
                        "backend": "prometheus",
                        "serverAddress": PROMETHEUS_URL,
                        "query": "sum(rate(istio_requests_total{reporter="
                        '"destination",destination_service_namespace="demo",destination_service_name='
                        '"api-main-predictor",cluster="demo-dev-usc1"}[1m]))',
                    },
                    "target": {"type": "Value", "value": "2.5"},
                },
            },
        ),
        (
            "{metric: concurrency, target: 8}",
            {"serving.kserve.io/deploymentMode": RAW, "serving.kserve.io/autoscalerClass": "keda"},
            {
                "type": "External",
                "external": {
                    "metric": {
                        "backend": "prometheus",
                        "serverAddress": PROMETHEUS_URL,
                        "query": "sum(rate(istio_request_duration_milliseconds_sum{reporter="
                        '"destination",destination_service_namespace="demo",destination_service_name='
                        '"api-main-predictor",cluster="demo-dev-usc1"}[1m])) / 1000',
                    },
                    "target": {"type": "Value", "value": "8"},
                },
            },
        ),
    ],
)
def test_autoscaling_metrics(
    tmp_path: pathlib.Path, autoscaling: str, annotations: dict[str, str], metric: dict[str, Any]
) -> None:
    endpoint = f"  api:\n    variants:\n      main: {{model: sk, version: v1, autoscaling: {autoscaling}}}\n"
    isvc = _object(_endpoint(tmp_path, endpoint), ISVC, "api-main")
    assert isvc["metadata"]["annotations"] == annotations
    assert isvc["spec"]["predictor"]["autoScaling"] == {"metrics": [metric]}


def test_cpu_only_variant_has_no_placement(tmp_path: pathlib.Path) -> None:
    main = "{model: sk, version: v1, cpu: 500m, memory: 1Gi, minReplicas: 0}"
    endpoint = f"  api:\n    variants:\n      main: {main}\n"
    predictor = _object(_endpoint(tmp_path, endpoint), ISVC, "api-main")["spec"]["predictor"]
    assert "nodeSelector" not in predictor and "tolerations" not in predictor and "logger" not in predictor
    amounts = {"cpu": "500m", "memory": "1Gi"}
    assert predictor["model"]["resources"] == {"requests": amounts, "limits": amounts}
    assert (predictor["minReplicas"], predictor["maxReplicas"]) == (0, 3)
    assert predictor["serviceAccountName"] == "endpoint-api-dev-usc1"


def test_declared_service_account_is_used(tmp_path: pathlib.Path) -> None:
    extra = "security:\n  serviceAccounts:\n    serving: {}\n"
    endpoint = "  api:\n    serviceAccount: serving\n    variants:\n      main: {model: sk, version: v1}\n"
    graph = _endpoint(tmp_path, endpoint, extra)
    predictor = _object(graph, ISVC, "api-main")["spec"]["predictor"]
    assert predictor["serviceAccountName"] == "account-serving-dev-usc1"
    assert f"{DEV}/kubernetes:core/v1:ServiceAccount/account-serving-dev-usc1" in (
        graph.resources[f"{DEV}/{ISVC}/api-main"].depends_on
    )


def test_a_variant_asking_for_tpu_chips_is_refused_where_it_names_the_pool(tmp_path: pathlib.Path) -> None:
    """No KServe runtime drives TPU chips, so such a predictor is refused rather than compiled."""
    extra = "accelerators:\n  tpu: {type: tpu, version: v5e, topology: 2x2}\n"
    endpoint = "  api:\n    variants:\n      main: {model: hf, version: v1, nodePool: tpu, accelerators: 4}\n"
    text = MINIMAL + MODELS + extra + "endpoints:\n" + endpoint
    validation = validate(ConfigSource(write(tmp_path, text), "mlops.yaml", None))
    assert [d.to_text() for d in validation.diagnostics if d.severity is Severity.ERROR] == [
        "mlops.yaml:25:48: error E204: variant 'main' of endpoint 'api' runs on node pool 'tpu', but its "
        "runtime 'huggingface' (kserve-huggingfaceserver) cannot use TPU chips\n"
        "  hint: serve it from a GPU or CPU pool: no KServe runtime mlopsctl deploys uses TPU chips"
    ]


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
