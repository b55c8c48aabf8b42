"""Each variant's InferenceService: runtime, protocols, placement, autoscaling, account."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
from conftest import EXAMPLES
from helpers import MINIMAL, write
from serving_cases import DEV, GPU_TOLERATION, ISVC, MODELS, PROD, RAW, SPOT_TOLERATION, _endpoint, _object

from mlopsctl.api import compile_graphs, validate
from mlopsctl.compiler.metrics import MANAGED_QUERY_URL as PROMETHEUS_URL
from mlopsctl.config.diagnostics import Severity
from mlopsctl.config.source import ConfigSource


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
    main = "{model: sk, version: v1, cpu: 500m, memory: 1Gi, minReplicas: 0, autoscaling: {metric: cpu}}"
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
