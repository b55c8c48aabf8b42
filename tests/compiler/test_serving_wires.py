"""The wires between an endpoint's objects and KServe, Istio and Prometheus, each checked in the graph."""

from __future__ import annotations

import json
import pathlib
import re
from typing import Any

import pytest
from conftest import EXAMPLES
from helpers import OWNED_STAGED_DATA, compile_text
from upstream_schemas import UpstreamSchemas

from mlopsctl.api import compile_graphs, validate
from mlopsctl.compiler.metrics import IN_CLUSTER_QUERY_URL, MANAGED_QUERY_URL, metrics_catalog
from mlopsctl.compiler.serving import LOGGER_AGENT_PORT
from mlopsctl.config.runtimes import RUNTIMES
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEV = Target("dev", "us-central1")
NS = "demo"
ISVC = "kubernetes:serving.kserve.io/v1beta1:InferenceService"
GRAPH = "kubernetes:serving.kserve.io/v1alpha1:InferenceGraph"
AUTHZ = "kubernetes:security.istio.io/v1:AuthorizationPolicy"
VS = "kubernetes:networking.istio.io/v1:VirtualService"
SERVICE = "kubernetes:core/v1:Service"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
MODELS = """\
models:
  sk: {framework: sklearn, versions: {v1: {artifactUri: gs://acme-models/sk/1}, v2: {artifactUri: gs://acme-models/sk/2}}}
  trt: {framework: onnx, versions: {v1: {artifactUri: gs://acme-models/trt/1}, v2: {artifactUri: gs://acme-models/trt/2}}}
  torch: {framework: pytorch, versions: {v1: {artifactUri: gs://acme-models/torch/1}}}
  tf: {framework: tensorflow, versions: {v1: {artifactUri: gs://acme-models/tf/1}}}
  xgb: {framework: xgboost, versions: {v1: {artifactUri: gs://acme-models/xgb/1}}}
  hf: {framework: huggingface, versions: {v1: {artifactUri: gs://acme-models/hf/1}}}
"""
ROLLOUTS: dict[str, dict[str, Any] | None] = {
    "single": None,
    "canary": {"strategy": "canary", "baseline": "a", "candidate": "b", "steps": [10, 100]},
    "ab": {"strategy": "ab", "weights": {"a": 50, "b": 50}},
    "shadow": {"strategy": "shadow", "primary": "a", "shadow": "b", "mirrorPercent": 20},
    "blue-green": {"strategy": "blue-green", "blue": "a", "green": "b", "active": "blue"},
}


def _graph(tmp_path: pathlib.Path, endpoints: dict[str, Any], extra: str = "") -> Graph:
    return compile_text(
        tmp_path, OWNED_STAGED_DATA + MODELS + extra + f"endpoints: {json.dumps(endpoints)}\n"
    )[DEV]


def _get(graph: Graph, type_token: str, name: str) -> dict[str, Any]:
    return dict(graph.resources[f"{DEV}/{type_token}/{name}"].inputs)


def _variants(rollout: dict[str, Any] | None, **fields: Any) -> dict[str, Any]:
    variants = {"a": {"model": "sk", "version": "v1"}}
    if rollout is not None:
        variants["b"] = {"model": "sk", "version": "v2"}
        fields["rollout"] = rollout
    return {"variants": variants, **fields}


def _example_graphs() -> list[Graph]:
    return [
        graph
        for example in EXAMPLES
        for graph in compile_graphs(validate(ConfigSource(example, str(example), None))).values()
    ]


def test_every_inference_service_is_cluster_local() -> None:
    """Without the label KServe adds an Ingress of its own beside the endpoint's Gateway."""
    services = [r for graph in _example_graphs() for r in graph if r.type == ISVC]
    assert services
    for resource in services:
        labels = resource.inputs["metadata"]["labels"]
        assert labels["networking.kserve.io/visibility"] == "cluster-local", resource.address


@pytest.mark.parametrize(
    ("runtime", "model", "expected"),
    [
        ("triton", "trt", {"prometheus.io/scrape": "true", "prometheus.io/port": "8002"}),
        ("sklearn", "sk", {"prometheus.io/scrape": "true", "prometheus.io/port": "8080"}),
        ("pytorch", "torch", {"prometheus.io/scrape": "true", "prometheus.io/port": "8082"}),
        ("tensorflow", "tf", None),
    ],
)
def test_predictor_pods_name_their_model_servers_metrics_for_istios_agent(
    tmp_path: pathlib.Path, runtime: str, model: str, expected: dict[str, str] | None
) -> None:
    """Istio's agent merges what these annotations name into the port the collectors scrape."""
    variants = {"a": {"model": model, "version": "v1"}}
    predictor = _get(_graph(tmp_path, {"ep": {"runtime": runtime, "variants": variants}}), ISVC, "ep-a")
    annotations = predictor["spec"]["predictor"].get("annotations")
    assert annotations == ({**expected, "prometheus.io/path": "/metrics"} if expected else None)


@pytest.mark.parametrize("rollout", ROLLOUTS.values(), ids=ROLLOUTS.keys())
def test_logged_traffic_reaches_the_port_kserve_aims_at_its_logger_agent(
    tmp_path: pathlib.Path, rollout: dict[str, Any] | None
) -> None:
    """KServe points port 80 of a predictor Service (its first container port, HTTP) at the
    agent when the predictor has a logger: every HTTP route and mirror must use port 80."""
    graph = _graph(tmp_path, {"ep": _variants(rollout, logging={"dataset": "features"})})
    logger = f"http://ep-request-logger.{NS}.svc.cluster.local"
    for variant in ("a", "b") if rollout else ("a",):
        predictor = _get(graph, ISVC, f"ep-{variant}")["spec"]["predictor"]
        assert predictor["logger"] == {"mode": "all", "url": logger}
        assert predictor["model"]["ports"][0]["name"] == "http"
    destinations = [
        d
        for route in _get(graph, VS, "ep")["spec"]["http"]
        for d in [
            *(r["destination"] for r in route["route"]),
            *([route["mirror"]] if "mirror" in route else []),
        ]
    ]
    assert destinations
    assert {d["port"]["number"] for d in destinations} == {80}
    assert {d["host"] for d in destinations} <= {f"ep-{v}-predictor.{NS}.svc.cluster.local" for v in "ab"}


def test_a_graph_steps_logged_traffic_passes_the_agent(tmp_path: pathlib.Path) -> None:
    steps = {"scale": {"model": "sk", "version": "v1"}, "score": {"model": "xgb", "version": "v1"}}
    graph = _graph(tmp_path, {"ep": {"graph": {"steps": steps}, "logging": {"dataset": "features"}}})
    for step in steps:
        predictor = _get(graph, ISVC, f"ep-{step}")["spec"]["predictor"]
        assert predictor["logger"]["url"] == f"http://ep-request-logger.{NS}.svc.cluster.local"
        assert predictor["model"]["ports"][0]["name"] == "http"


def test_the_agent_port_is_kserves() -> None:
    # pkg/constants: InferenceServiceDefaultAgentPort; docs state it too (see below).
    assert LOGGER_AGENT_PORT == 9081


@pytest.mark.parametrize("runtime", sorted(RUNTIMES))
def test_one_grpc_port_per_endpoint_in_every_object(tmp_path: pathlib.Path, runtime: str) -> None:
    """The container port, the predictor Service's, the endpoint Service's and the route's agree."""
    model = next(m for m in ("trt", "tf", "torch", "sk", "xgb", "hf") if _serves(runtime, m))
    endpoint = {
        "runtime": runtime,
        "protocols": ["http", "grpc"],
        "variants": {"a": {"model": model, "version": "v1"}},
    }
    if runtime in ("pytorch", "huggingface", "sklearn", "xgboost"):
        endpoint["protocolVersion"] = "v2"
    graph = _graph(tmp_path, {"ep": endpoint})
    grpc = RUNTIMES[runtime].grpc_port  # type: ignore[index]
    ports = _get(graph, ISVC, "ep-a")["spec"]["predictor"]["model"]["ports"]
    assert ports == [{"name": "http", "containerPort": 8080}, {"name": "grpc", "containerPort": grpc}]
    service = _get(graph, SERVICE, "ep")["spec"]["ports"]
    assert [(p["name"], p["port"]) for p in service] == [("grpc", grpc), ("http", 80)]
    routes = {
        r["name"]: r["route"][0]["destination"]["port"]["number"]
        for r in _get(graph, VS, "ep")["spec"]["http"]
    }
    assert routes == {"default-grpc": grpc, "default-http": 80}


def _serves(runtime: str, model: str) -> bool:
    framework = {"trt": "onnx", "tf": "tensorflow", "torch": "pytorch", "sk": "sklearn", "xgb": "xgboost"}
    return framework.get(model, "huggingface") in RUNTIMES[runtime].formats  # type: ignore[index]


def test_the_request_logger_admits_only_the_predictors_of_its_endpoint(
    tmp_path: pathlib.Path, upstream_schemas: UpstreamSchemas
) -> None:
    endpoints = {
        "ep": _variants(ROLLOUTS["canary"], logging={"dataset": "features"}, callers=["web"]),
        "other": _variants(None),
    }
    graph = _graph(tmp_path, endpoints)
    policy = _get(graph, AUTHZ, "ep-request-logger")
    assert upstream_schemas.validate(policy) == []
    pod = _get(graph, DEPLOYMENT, "ep-request-logger")["spec"]["template"]["spec"]
    pod_labels = _get(graph, DEPLOYMENT, "ep-request-logger")["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert policy["spec"]["action"] == "ALLOW"
    accounts = {_get(graph, ISVC, f"ep-{v}")["spec"]["predictor"]["serviceAccountName"] for v in "ab"}
    [account] = accounts
    other = _get(graph, ISVC, "other-a")["spec"]["predictor"]["serviceAccountName"]
    assert other != account
    [container] = pod["containers"]
    [listening] = container["ports"]
    assert policy["spec"]["rules"] == [
        {
            "from": [{"source": {"principals": [f"cluster.local/ns/{NS}/sa/{account}"]}}],
            "to": [{"operation": {"methods": ["POST"], "ports": [str(listening["containerPort"])]}}],
        }
    ]
    service = _get(graph, SERVICE, "ep-request-logger")["spec"]
    assert service["ports"][0]["targetPort"] == listening["name"]
    assert "ep-request-logger" not in {
        r.name for r in graph if r.type == AUTHZ and r.name.startswith("other")
    }


BATCH = """\
batchJobs:
  nightly: {model: xgb, version: v1, input: {gcs: raw/in/}, output: {gcs: raw/out/}}
"""


def test_graph_steps_admit_only_the_router_and_their_batch_jobs(
    tmp_path: pathlib.Path, upstream_schemas: UpstreamSchemas
) -> None:
    steps = {"scale": {"model": "sk", "version": "v1"}, "score": {"model": "xgb", "version": "v1"}}
    graph = _graph(tmp_path, {"ep": {"graph": {"steps": steps}, "callers": ["web"]}}, BATCH)
    router = _get(graph, GRAPH, "ep")["spec"]["serviceAccountName"]
    principals = {
        step: _get(graph, AUTHZ, f"ep-{step}-predictor")["spec"]["rules"][0]["from"] for step in steps
    }
    router_principal = f"cluster.local/ns/{NS}/sa/{router}"
    assert principals == {
        "scale": [{"source": {"principals": [router_principal]}}],
        "score": [
            {"source": {"principals": [router_principal, f"cluster.local/ns/{NS}/sa/batch-nightly-dev-usc1"]}}
        ],
    }
    for step in steps:
        policy = _get(graph, AUTHZ, f"ep-{step}-predictor")
        assert upstream_schemas.validate(policy) == []
        assert policy["spec"]["selector"]["matchLabels"] == {
            "serving.kserve.io/inferenceservice": f"ep-{step}"
        }
    assert f"{DEV}/kubernetes:core/v1:ServiceAccount/batch-nightly-dev-usc1" in graph.resources


@pytest.mark.parametrize(
    ("platform", "url"),
    [("", MANAGED_QUERY_URL), ("platform: {metrics: in-cluster}\n", IN_CLUSTER_QUERY_URL)],
)
def test_keda_triggers_ask_the_clusters_prometheus(tmp_path: pathlib.Path, platform: str, url: str) -> None:
    variant = {"model": "sk", "version": "v1", "autoscaling": {"metric": "rps", "target": 5}}
    graph = _graph(tmp_path, {"ep": {"variants": {"a": variant}}}, platform)
    [metric] = _get(graph, ISVC, "ep-a")["spec"]["predictor"]["autoScaling"]["metrics"]
    assert metric["external"]["metric"]["serverAddress"] == url


def _runtime_table() -> dict[str, tuple[int, int]]:
    """docs/serving.md's runtime table: each `runtime` key → (HTTP port, gRPC port)."""
    rows = re.findall(r"^\| (.*?) \|.*\| (\d+), (\d+) \|$", (ROOT / "docs/serving.md").read_text(), re.M)
    return {
        key: (int(http), int(grpc)) for keys, http, grpc in rows for key in re.findall(r"`([a-z]+)`", keys)
    }


def test_the_runtime_table_states_the_ports_the_runtimes_listen_on() -> None:
    assert _runtime_table() == {key: (r.http_port, r.grpc_port) for key, r in RUNTIMES.items()}


@pytest.mark.parametrize("doc", ["docs/serving.md", "docs/rollouts.md"])
def test_docs_state_each_runtimes_grpc_port(doc: str) -> None:
    """Sentences like "9000 for `triton` and `tensorflow`, 7070 for `pytorch`" agree with runtimes.py,
    and every four-digit port a document names is one the objects use."""
    text = " ".join((ROOT / doc).read_text().split())
    stated = {
        key: int(port)
        for port, keys in re.findall(r"(\d{4}) for ((?:`[a-z]+`(?:, | and )?)+)", text)
        for key in re.findall(r"`([a-z]+)`", keys)
    }
    assert stated == {key: r.grpc_port for key, r in RUNTIMES.items()}
    known = {r.http_port for r in RUNTIMES.values()} | {r.grpc_port for r in RUNTIMES.values()}
    known |= {e.port for e in metrics_catalog().runtimes.values() if e is not None}
    known |= {LOGGER_AGENT_PORT, 1000}  # the agent; the connection limits of the traffic policy
    prose = re.sub(r"`[^`]*`", "", text)  # queries and URLs
    assert {int(n) for n in re.findall(r"(?<![\d.])(\d{4})(?![\d.])", prose)} <= known
