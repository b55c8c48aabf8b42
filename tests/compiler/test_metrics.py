"""The collectors of the endpoints' metrics and GMP's query frontend: what is emitted, and each wire."""

from __future__ import annotations

import json
import pathlib
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from helpers import MINIMAL, STAGED, write
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from upstream_schemas import UpstreamSchemas

from mlopsctl.api import compile_graphs, validate
from mlopsctl.compiler import request_logger
from mlopsctl.compiler.iam import PROJECT_IAM_MEMBER
from mlopsctl.compiler.identity import GSA, GSA_IAM_MEMBER
from mlopsctl.compiler.metrics import (
    ENDPOINT_LABEL,
    FRONTEND_IMAGE,
    PODMONITOR,
    PODMONITORING,
    PROXY_PATH,
    PROXY_PORT,
    metrics_catalog,
    prometheus_url,
    scrape_annotations,
)
from mlopsctl.compiler.pods import RESTRICTED_CONTAINER, RESTRICTED_POD
from mlopsctl.compiler.provenance import PROVENANCE, without
from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.runtimes import RUNTIMES
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource
from mlopsctl_stage.logbuffer import Metrics

DEV = Target("dev", "us-central1")
IN_CLUSTER = "platform: {metrics: in-cluster}\n"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE = "kubernetes:core/v1:Service"
KSA = "kubernetes:core/v1:ServiceAccount"
SERVING = """\
data:
  datasets:
    logs: {}
models:
  clf: {framework: sklearn, versions: {v1: {artifactUri: gs://acme-models/clf/1}}}
  net: {framework: onnx, versions: {v1: {artifactUri: gs://acme-models/net/1}}}
endpoints:
  api:
    variants:
      main: {model: clf, version: v1, autoscaling: {metric: cpu, target: 70}}
    logging: {dataset: logs}
  chain:
    graph:
      steps:
        prep: {model: clf, version: v1}
        score: {model: net, version: v1}
"""
MONITOR = """\
monitors:
  api-errors: {type: error-rate, endpoint: api, objective: 1}
"""


def _compiled(tmp_path: pathlib.Path, text: str) -> tuple[Graph, MLOpsConfig]:
    validation = validate(ConfigSource(write(tmp_path, text), "mlops.yaml", None))
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    return compile_graphs(validation)[DEV], validation.targets[DEV].config


def _of(graph: Graph, type_token: str) -> list[Resource]:
    return [r for r in graph if r.type == type_token]


def _get(graph: Graph, type_token: str, name: str) -> Any:
    return graph.resources[f"{graph.target}/{type_token}/{name}"].inputs


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    matched = all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "Exists", "the only operator used"
        matched = matched and expression["key"] in labels
    return matched


def _endpoint(spec: dict[str, Any]) -> dict[str, Any]:
    [endpoint] = spec.get("endpoints") or spec["podMetricsEndpoints"]
    return dict(endpoint)


def test_no_endpoints_no_collectors_and_no_frontend(tmp_path: pathlib.Path) -> None:
    graph, _ = _compiled(tmp_path, MINIMAL)
    kinds = {r.inputs.get("kind") for r in graph}
    assert kinds.isdisjoint({"PodMonitoring", "PodMonitor", "Rules", "PrometheusRule", "Deployment"})
    assert not any(r.name.startswith("gmp-frontend") for r in graph)


@pytest.mark.parametrize(
    ("platform", "kind", "other"),
    [("", PODMONITORING, PODMONITOR), (IN_CLUSTER, PODMONITOR, PODMONITORING)],
    ids=["managed", "in-cluster"],
)
def test_collectors_of_each_platform_are_valid_upstream(
    tmp_path: pathlib.Path, upstream_schemas: UpstreamSchemas, platform: str, kind: str, other: str
) -> None:
    graph, _ = _compiled(tmp_path, STAGED + SERVING + MONITOR + platform)
    collectors = _of(graph, kind)
    assert sorted((r.name, r.inputs["metadata"]["namespace"]) for r in collectors) == [
        ("istio-ingressgateway", "istio-system"),
        ("istio-proxies", "demo"),
    ]
    assert _of(graph, other) == []
    monitoring = [r for r in graph if r.inputs.get("kind") in ("Rules", "PrometheusRule")]
    for resource in [*collectors, *monitoring]:
        assert upstream_schemas.validate(dict(resource.inputs)) == [], resource.address
    # kube-prometheus-stack's Prometheus selects PodMonitors and PrometheusRules by its release label.
    release = "kube-prometheus-stack" if platform else None
    assert {r.inputs["metadata"]["labels"].get("release") for r in [*collectors, *monitoring]} == {release}


@pytest.mark.parametrize("platform", ["", IN_CLUSTER], ids=["managed", "in-cluster"])
def test_collectors_scrape_the_istio_agent(tmp_path: pathlib.Path, platform: str) -> None:
    """Only the agent's merged endpoint: STRICT mTLS refuses a plain scrape of any other port."""
    graph, _ = _compiled(tmp_path, STAGED + SERVING + platform)
    for collector in [*_of(graph, PODMONITORING), *_of(graph, PODMONITOR)]:
        endpoint = _endpoint(collector.inputs["spec"])
        assert endpoint["path"] == PROXY_PATH
        if platform:
            # A PodMonitor scrapes declared ports only: the proxy's, moved to the agent's port.
            assert endpoint["port"] == "http-envoy-prom"
            assert endpoint["relabelings"] == [
                {
                    "action": "replace",
                    "sourceLabels": ["__meta_kubernetes_pod_ip"],
                    "targetLabel": "__address__",
                    "replacement": "$1:15020",
                }
            ]
        else:
            assert endpoint["port"] == PROXY_PORT == 15020


def test_the_endpoint_collector_selects_every_endpoint_pod_and_nothing_else(tmp_path: pathlib.Path) -> None:
    """Predictors and InferenceGraph routers take their object's labels (KServe copies them), the
    request logger its template's; a monitor's job is no endpoint pod."""
    drift = (
        "  base: {type: drift, endpoint: api, baseline: {dataset: logs, table: base},"
        ' features: {x: {kind: numeric}}, schedule: {cron: "0 3 * * *"}}\n'
    )
    text = STAGED + SERVING.replace("    logs: {}", "    logs: {tables: {base: {}}}") + MONITOR + drift
    graph, _ = _compiled(tmp_path, text)
    selector = _get(graph, PODMONITORING, "istio-proxies")["spec"]["selector"]
    pod_labels = {
        r.name: r.inputs["metadata"]["labels"]
        for r in graph
        if r.inputs.get("kind") in ("InferenceService", "InferenceGraph")
    }
    pod_labels |= {r.name: r.inputs["spec"]["template"]["metadata"]["labels"] for r in _of(graph, DEPLOYMENT)}
    assert sorted(n for n, labels in pod_labels.items() if _selects(selector, labels)) == [
        "api-main",
        "api-request-logger",
        "chain",
        "chain-prep",
        "chain-score",
    ]
    [job] = [r for r in graph if r.inputs.get("kind") == "CronJob"]
    assert not _selects(selector, job.inputs["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"])
    assert selector == {"matchExpressions": [{"key": ENDPOINT_LABEL, "operator": "Exists"}]}


def test_the_gateway_collector_follows_the_configured_gateway(tmp_path: pathlib.Path) -> None:
    gateway = (
        "security:\n  ingressGateway:\n    selector: {app: edge}\n"
        "    serviceAccount: istio-ingress/istio-ingressgateway\n"
    )
    graph, _ = _compiled(tmp_path, STAGED + SERVING + gateway)
    collector = _get(graph, PODMONITORING, "istio-ingressgateway")
    assert collector["metadata"]["namespace"] == "istio-ingress"
    assert collector["spec"]["selector"] == {"matchLabels": {"app": "edge"}}


def test_by_default_the_gateway_collector_selects_the_gateway_add_ons_pods(tmp_path: pathlib.Path) -> None:
    from mlopsctl.config.addons import catalog

    graph, _ = _compiled(tmp_path, STAGED + SERVING)
    collector = _get(graph, PODMONITORING, "istio-ingressgateway")
    addon = catalog().addons["istio-ingressgateway"]
    assert collector["metadata"]["namespace"] == addon.namespace
    assert _selects(collector["spec"]["selector"], dict(addon.values["labels"]))


def _kept(collector: dict[str, Any]) -> set[str]:
    endpoint = _endpoint(collector["spec"])
    [keep] = endpoint.get("metricRelabeling") or endpoint["metricRelabelings"]
    assert (keep["action"], keep["sourceLabels"]) == ("keep", ["__name__"])
    everything = {name for e in metrics_catalog().exporters.values() for name in e.series()}
    return {name for name in everything if re.fullmatch(keep["regex"], name)}


def test_collectors_keep_the_series_of_what_they_scrape_only(tmp_path: pathlib.Path) -> None:
    graph, _ = _compiled(tmp_path, STAGED + SERVING)
    exporters = metrics_catalog().exporters

    def series(*names: str) -> set[str]:
        return {s for name in names for s in exporters[name].series()}

    # sklearn (KServe's Python server) and onnx (Triton) serve; api logs its requests.
    assert _kept(_get(graph, PODMONITORING, "istio-proxies")) == series(
        "istio-proxy", "kserve-python", "triton", "request-logger"
    )
    assert _kept(_get(graph, PODMONITORING, "istio-ingressgateway")) == series("istio-proxy")


@pytest.mark.parametrize(
    ("server", "port"),
    [("kserve-tritonserver", "8002"), ("kserve-sklearnserver", "8080"), ("request-logger", "8080")],
)
def test_scrape_annotations_name_where_the_server_exposes_metrics(server: str, port: str) -> None:
    assert scrape_annotations(server) == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": port,
        "prometheus.io/path": "/metrics",
    }


def test_a_runtime_without_metrics_gets_no_scrape_annotations() -> None:
    assert scrape_annotations("kserve-tensorflow-serving") == {}


def test_every_runtime_declares_its_metrics() -> None:
    catalog = metrics_catalog()
    assert {r.name for r in RUNTIMES.values()} == set(catalog.runtimes)
    for served in [*catalog.runtimes.values(), *catalog.services.values()]:
        assert served is None or served.exporter in catalog.exporters


def test_the_request_loggers_declared_series_are_what_the_stage_exposes() -> None:
    registry = CollectorRegistry()
    Metrics(registry)
    exposed = {
        sample.name
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
        if not sample.name.endswith("_created")
    }
    exposed |= {
        "request_logger_events_total",
        "request_logger_unpaired_events_total",
    }  # labelled: no sample yet
    assert exposed == set(metrics_catalog().exporters["request-logger"].series())
    assert metrics_catalog().services["request-logger"].port == request_logger.PORT


def test_predictors_have_the_agent_merge_their_runtimes_metrics(tmp_path: pathlib.Path) -> None:
    graph, _ = _compiled(tmp_path, STAGED + SERVING)
    isvcs = [r.inputs for r in graph if r.inputs.get("kind") == "InferenceService"]
    assert len(isvcs) == 3
    for isvc in isvcs:
        runtime = isvc["spec"]["predictor"]["model"]["runtime"]
        assert isvc["spec"]["predictor"]["annotations"] == scrape_annotations(runtime)


def test_the_request_logger_has_the_agent_merge_its_metrics(tmp_path: pathlib.Path) -> None:
    graph, _ = _compiled(tmp_path, STAGED + SERVING)
    deployment = _get(graph, DEPLOYMENT, "api-request-logger")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert [p["containerPort"] for p in container["ports"]] == [request_logger.PORT]
    annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
    assert annotations == scrape_annotations("request-logger")


FRONTEND_NEEDED = {
    "keda": "  api:\n    variants:\n      main: {model: clf, version: v1}\n",
    "canary-analysis": (
        "  api:\n    variants:\n"
        "      a: {model: clf, version: v1, autoscaling: {metric: cpu}}\n"
        "      b: {model: clf, version: v1, autoscaling: {metric: memory}}\n"
        "    rollout: {strategy: canary, baseline: a, candidate: b, analysis: {}}\n"
    ),
    "graph": (
        "  api:\n    graph:\n      steps:\n"
        "        a: {model: clf, version: v1}\n        b: {model: clf, version: v1}\n"
    ),
}
NO_FRONTEND = "  api:\n    variants:\n      main: {model: clf, version: v1, autoscaling: {metric: cpu}}\n"
MODELS = "models:\n  clf: {framework: sklearn, versions: {v1: {artifactUri: gs://acme-models/clf/1}}}\n"


def _frontend(graph: Graph) -> list[Resource]:
    return [r for r in graph if r.name.startswith("gmp-frontend")]


@pytest.mark.parametrize("endpoints", FRONTEND_NEEDED.values(), ids=FRONTEND_NEEDED.keys())
def test_the_frontend_runs_when_keda_or_flagger_query_it(tmp_path: pathlib.Path, endpoints: str) -> None:
    graph, _ = _compiled(tmp_path, MINIMAL + MODELS + "endpoints:\n" + endpoints)
    assert len(_frontend(graph)) == 7  # with its NetworkPolicy
    in_cluster, _ = _compiled(tmp_path, MINIMAL + MODELS + "endpoints:\n" + endpoints + IN_CLUSTER)
    assert _frontend(in_cluster) == []


def test_no_query_no_frontend(tmp_path: pathlib.Path) -> None:
    graph, _ = _compiled(tmp_path, MINIMAL + MODELS + "endpoints:\n" + NO_FRONTEND)
    assert _frontend(graph) == []


def test_the_frontend_answers_at_the_url_flagger_and_keda_ask(
    tmp_path: pathlib.Path, upstream_schemas: UpstreamSchemas
) -> None:
    graph, config = _compiled(tmp_path, MINIMAL + MODELS + "endpoints:\n" + FRONTEND_NEEDED["keda"])
    for resource in _frontend(graph):
        if resource.is_kubernetes:
            assert upstream_schemas.validate(dict(resource.inputs)) == [], resource.address
    url = urlsplit(prometheus_url(config))
    service, deployment = _get(graph, SERVICE, "gmp-frontend"), _get(graph, DEPLOYMENT, "gmp-frontend")
    assert (
        url.hostname == f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc.cluster.local"
    )
    assert (service["metadata"]["name"], service["metadata"]["namespace"]) == ("frontend", "gmp-public")
    [port] = service["spec"]["ports"]
    assert port["port"] == url.port == 9090
    template = deployment["spec"]["template"]
    assert _selects({"matchLabels": service["spec"]["selector"]}, template["metadata"]["labels"])
    assert deployment["spec"]["selector"] == {"matchLabels": service["spec"]["selector"]}
    [container] = template["spec"]["containers"]
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {port["targetPort"]: 9090}
    assert container["args"] == ["--web.listen-address=:9090", "--query.project-id=acme-demo-dev"]
    assert {
        container["readinessProbe"]["httpGet"]["port"],
        container["livenessProbe"]["httpGet"]["port"],
    } == {port["targetPort"]}
    assert deployment["spec"]["replicas"] >= 2


def test_the_frontend_image_is_pinned_and_the_pod_restricted(tmp_path: pathlib.Path) -> None:
    graph, _ = _compiled(tmp_path, MINIMAL + MODELS + "endpoints:\n" + FRONTEND_NEEDED["keda"])
    pod = _get(graph, DEPLOYMENT, "gmp-frontend")["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["image"] == FRONTEND_IMAGE == "gke.gcr.io/prometheus-engine/frontend:v0.15.3-gke.0"
    assert pod["securityContext"] == {**RESTRICTED_POD, "runAsUser": 1000, "runAsGroup": 1000}
    assert container["securityContext"] == {**RESTRICTED_CONTAINER, "readOnlyRootFilesystem": True}
    assert set(container["resources"]["requests"]) == {"cpu", "memory"}
    assert set(container["resources"]["limits"]) == {"memory"}


def test_the_frontend_reads_cloud_monitoring_as_its_own_google_account(tmp_path: pathlib.Path) -> None:
    graph, _ = _compiled(tmp_path, MINIMAL + MODELS + "endpoints:\n" + FRONTEND_NEEDED["keda"])
    gsa = _get(graph, GSA, "gmp-frontend")
    email = f"{gsa['accountId']}@{gsa['project']}.iam.gserviceaccount.com"
    pod = _get(graph, DEPLOYMENT, "gmp-frontend")["spec"]["template"]["spec"]
    ksa = _get(graph, KSA, pod["serviceAccountName"])
    assert ksa["metadata"]["namespace"] == "gmp-public"
    annotations = without(KSA, ksa, PROVENANCE)["metadata"]["annotations"]
    assert annotations == {"iam.gke.io/gcp-service-account": email}
    binding = _get(graph, GSA_IAM_MEMBER, "gmp-frontend-workload-identity")
    assert binding == {
        "serviceAccountId": f"projects/acme-demo-dev/serviceAccounts/{email}",
        "role": "roles/iam.workloadIdentityUser",
        "member": f"serviceAccount:acme-demo-dev.svc.id.goog[gmp-public/{ksa['metadata']['name']}]",
    }
    assert _get(graph, PROJECT_IAM_MEMBER, "gmp-frontend-monitoring-viewer") == {
        "project": "acme-demo-dev",
        "role": "roles/monitoring.viewer",
        "member": f"serviceAccount:{email}",
    }


def test_each_regions_frontend_has_its_own_identity(tmp_path: pathlib.Path) -> None:
    """The regions of an environment share a project and so a Workload Identity pool."""
    validation = validate(
        ConfigSource(
            write(tmp_path, MINIMAL + MODELS + "endpoints:\n" + NO_FRONTEND.replace("cpu", "rps")), "m", None
        )
    )
    graphs = compile_graphs(validation)
    prod = [g for t, g in graphs.items() if t.env == "prod"]
    members = {json.dumps(_get(g, GSA_IAM_MEMBER, "gmp-frontend-workload-identity")) for g in prod}
    accounts = {_get(g, GSA, "gmp-frontend")["accountId"] for g in prod}
    assert len(prod) == len(members) == len(accounts) == 2
