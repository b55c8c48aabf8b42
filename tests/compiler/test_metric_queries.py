"""Every PromQL query in a compiled graph names series that the graph's collectors produce.

The queries: Flagger's canary analysis, the KEDA triggers KServe makes from an InferenceService's
``autoScaling``, the alert rules (GMP ``Rules``, ``PrometheusRule``) and Cloud Monitoring's PromQL
alert policies. They are parsed with promql-parser (Prometheus' grammar, in Rust), not matched by
pattern, and each is checked where it is evaluated: a namespaced ``Rules`` sees only its
namespace's series, GMP's frontend and Cloud Monitoring every PodMonitoring's and GKE's system
metrics, an in-cluster Prometheus every PodMonitor's.

What a collector produces is worked out from the graph as the cluster will run it: the pods it
selects (InferenceServices, InferenceGraphs and Deployments, with the labels and annotations
KServe copies to their pods), what those pods expose through the istio-agent (Envoy's metrics
always, the application's when the pod's ``prometheus.io`` annotations name the port its server
exposes them on, ``metrics.json``), less what the collector's keep rule drops.
"""

from __future__ import annotations

import json
import pathlib
import re
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import promql_parser
import pytest
from conftest import EXAMPLES
from helpers import STAGED, write

from mlopsctl.api import compile_graphs, validate
from mlopsctl.compiler.metrics import (
    PROXY_PATH,
    PROXY_PORT,
    SCRAPE_INTERVAL,
    metrics_catalog,
    prometheus_url,
)
from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.naming import cluster_name
from mlopsctl.config.source import ConfigSource
from mlopsctl.graph import Graph, Resource

IN_CLUSTER = "platform: {metrics: in-cluster}\n"
MODES = {"managed": "", "in-cluster": IN_CLUSTER}
Series = dict[str, frozenset[str]]


@dataclass(frozen=True)
class Pod:
    namespace: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    server: str | None
    """The ClusterServingRuntime or stage service whose metrics it serves (metrics.json)."""


def pods(graph: Graph) -> Iterator[Pod]:
    """The pods the graph's workloads run, labelled and annotated as KServe and Kubernetes make them."""
    for r in graph:
        kind, meta = r.inputs.get("kind"), r.inputs.get("metadata", {})
        if kind == "InferenceService":
            predictor = r.inputs["spec"]["predictor"]
            labels = {**meta.get("labels", {}), **predictor.get("labels", {})}
            labels |= {"serving.kserve.io/inferenceservice": r.name, "component": "predictor"}
            annotations = {**meta.get("annotations", {}), **predictor.get("annotations", {})}
            yield Pod(meta["namespace"], labels, annotations, predictor["model"]["runtime"])
        elif kind == "InferenceGraph":
            labels = {**meta.get("labels", {}), "serving.kserve.io/inferencegraph": r.name}
            yield Pod(meta["namespace"], labels, meta.get("annotations", {}), None)
        elif kind == "Deployment":
            template = r.inputs["spec"]["template"]
            [container] = template["spec"]["containers"]
            command = container.get("command", [])
            server = command[1] if command[:1] == ["mlopsctl-stage"] else None
            annotations = template["metadata"].get("annotations", {})
            yield Pod(meta["namespace"], template["metadata"]["labels"], annotations, server)


def selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A Kubernetes label selector's verdict (matchLabels, matchExpressions)."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        holds = {
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
            "In": labels.get(key) in values,
            "NotIn": labels.get(key) not in values,
        }[operator]
        if not holds:
            return False
    return True


def _exposed(pod: Pod) -> set[str]:
    """The exporters a pod's istio-agent serves: Envoy's, and its server's when annotated to merge."""
    catalog = metrics_catalog()
    found = {"istio-proxy"}
    served = catalog.runtimes.get(pod.server or "") or catalog.services.get(pod.server or "")
    merged = pod.annotations.get("prometheus.io/scrape") == "true" and pod.annotations.get(
        "prometheus.io/port"
    ) == str(served.port if served else None)
    if served and merged and pod.annotations.get("prometheus.io/path") == served.path:
        found.add(served.exporter)
    return found


def collected(collector: Resource, graph: Graph, gateway_pods: list[Pod]) -> Series:
    """The series a PodMonitoring or PodMonitor produces, with the labels its samples carry."""
    spec = collector.inputs["spec"]
    [endpoint] = spec.get("endpoints") or spec["podMetricsEndpoints"]
    if "podMetricsEndpoints" in spec:
        [address] = [r for r in endpoint["relabelings"] if r.get("targetLabel") == "__address__"]
        port = int(address["replacement"].rpartition(":")[2])
    else:
        port = endpoint["port"]
    assert (port, endpoint["path"]) == (PROXY_PORT, PROXY_PATH), "only the istio-agent is scraped"
    [keep] = endpoint.get("metricRelabeling") or endpoint["metricRelabelings"]
    assert (keep["action"], keep["sourceLabels"]) == ("keep", ["__name__"])
    mode = "managed" if collector.inputs["kind"] == "PodMonitoring" else "in-cluster"
    target_labels = metrics_catalog().target_labels[mode]
    ns = collector.inputs["metadata"]["namespace"]
    exporters = {
        exporter
        for pod in [*pods(graph), *gateway_pods]
        if pod.namespace == ns and selects(spec["selector"], pod.labels)
        for exporter in _exposed(pod)
    }
    return {
        name: labels | target_labels
        for exporter in exporters
        for name, labels in metrics_catalog().exporters[exporter].series().items()
        if re.fullmatch(keep["regex"], name)
    }


def gateway_pods() -> list[Pod]:
    """The ingress gateway's pods, as the istio-ingressgateway add-on runs them."""
    from mlopsctl.config.addons import catalog

    gateway = catalog().addons["istio-ingressgateway"]
    return [Pod(gateway.namespace, dict(gateway.values["labels"]), {}, None)]


@dataclass(frozen=True)
class Query:
    where: str
    expr: str
    visible: Series


def queries(graph: Graph, config: MLOpsConfig) -> Iterator[Query]:
    """Every PromQL query in the graph, with the series the place it is evaluated can see."""
    collectors = [r for r in graph if r.inputs.get("kind") in ("PodMonitoring", "PodMonitor")]
    per_namespace: dict[str, Series] = {}
    for collector in collectors:
        ns = collector.inputs["metadata"]["namespace"]
        per_namespace[ns] = {**per_namespace.get(ns, {}), **collected(collector, graph, gateway_pods())}
    everywhere: Series = {
        name: labels for series in per_namespace.values() for name, labels in series.items()
    }
    managed = config.platform.metrics == "managed"
    system = metrics_catalog().exporters["gke-system"].series() if managed else {}
    for r in graph:
        kind = r.inputs.get("kind")
        if kind == "InferenceService":
            for metric in r.inputs["spec"]["predictor"].get("autoScaling", {}).get("metrics", []):
                if "external" in metric:
                    yield Query(r.address, metric["external"]["metric"]["query"], everywhere | system)
        elif kind == "Canary":
            for metric in r.inputs["spec"]["analysis"]["metrics"]:
                yield Query(r.address, metric["query"], everywhere | system)
        elif kind in ("Rules", "PrometheusRule"):
            visible = (
                per_namespace.get(r.inputs["metadata"]["namespace"], {}) if kind == "Rules" else everywhere
            )
            for group in r.inputs["spec"]["groups"]:
                yield from (Query(r.address, rule["expr"], visible) for rule in group["rules"])
        elif r.type == "gcp:monitoring/alertPolicy:AlertPolicy":
            for condition in r.inputs["conditions"]:
                if "conditionPrometheusQueryLanguage" in condition:
                    query = condition["conditionPrometheusQueryLanguage"]["query"]
                    yield Query(r.address, query, (everywhere if managed else {}) | system)


def selectors(expr: str) -> list[promql_parser.VectorSelector]:
    found: list[promql_parser.VectorSelector] = []
    promql_parser.walk(
        promql_parser.parse(expr),
        lambda node: found.append(node) if isinstance(node, promql_parser.VectorSelector) else None,
    )
    return found


def ranges(expr: str) -> list[timedelta]:
    found: list[timedelta] = []
    promql_parser.walk(
        promql_parser.parse(expr),
        lambda node: found.append(node.range) if isinstance(node, promql_parser.MatrixSelector) else None,
    )
    return found


def series_name(selector: promql_parser.VectorSelector) -> str:
    if selector.name:
        return str(selector.name)
    [name] = [m.value for m in selector.matchers.matchers if m.name == "__name__"]
    return str(name)


def problems(query: Query) -> list[str]:
    """What the query asks of series its evaluator cannot see: an unknown series or label."""
    found = []
    for selector in selectors(query.expr):
        name = series_name(selector)
        if name not in query.visible:
            found.append(f"{query.where}: no collector produces {name}")
            continue
        unknown = {m.name for m in selector.matchers.matchers} - query.visible[name] - {"__name__"}
        found += [f"{query.where}: {name} has no label {label}" for label in sorted(unknown)]
    shortest = 2 * timedelta(seconds=int(SCRAPE_INTERVAL.removesuffix("s")))
    found += [f"{query.where}: [{r}] holds under two samples" for r in ranges(query.expr) if r < shortest]
    return found


def compiled(path: pathlib.Path) -> list[tuple[Graph, MLOpsConfig]]:
    validation = validate(ConfigSource(path, str(path), None))
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    return [(g, validation.targets[t].config) for t, g in compile_graphs(validation).items()]


BASE = STAGED + (
    "data:\n  datasets:\n    logs: {}\n"
    "accelerators:\n  gpu: {type: gpu, accelerator: nvidia-l4}\n"
    "models:\n"
    "  m: {framework: sklearn, versions: {v1: {artifactUri: gs://acme-m/1}, v2: {artifactUri: gs://acme-m/2}}}\n"
    "  t: {framework: onnx, versions: {v1: {artifactUri: gs://acme-t/1}}}\n"
)
SLOS = (
    "monitors:\n"
    "  slow: {type: latency, endpoint: api, objective: 100, percentile: 99}\n"
    "  failing: {type: error-rate, endpoint: api, objective: 1}\n"
    "  down: {type: availability, endpoint: api, objective: 99.9}\n"
)


def _variant(version: str = "v1", **fields: Any) -> dict[str, Any]:
    return {"model": "m", "version": version, **fields}


def _two(rollout: dict[str, Any]) -> dict[str, Any]:
    return {"variants": {"a": _variant(), "b": _variant("v2")}, "rollout": rollout}


GPU = {"nodePool": "gpu", "accelerators": 1}
ENDPOINTS: dict[str, dict[str, Any]] = {
    **{
        f"autoscale-{metric}": {
            "variants": {
                "a": {
                    "model": "t",
                    "version": "v1",
                    "autoscaling": {"metric": metric, "target": 5},
                    **(GPU if metric == "gpu-duty-cycle" else {}),
                }
            }
        }
        for metric in ("rps", "concurrency", "cpu", "memory", "gpu-duty-cycle")
    },
    "canary-analysis": _two(
        {"strategy": "canary", "baseline": "a", "candidate": "b", "analysis": {"interval": "30s"}}
    ),
    "canary": _two({"strategy": "canary", "baseline": "a", "candidate": "b"}),
    "ab": _two({"strategy": "ab", "weights": {"a": 50, "b": 50}}),
    "shadow": _two({"strategy": "shadow", "primary": "a", "shadow": "b"}),
    "blue-green": _two({"strategy": "blue-green", "blue": "a", "green": "b"}),
    "graph": {
        "graph": {
            "steps": {"scale": {"model": "m", "version": "v1"}, "score": {"model": "t", "version": "v1"}}
        }
    },
}
REFUSED = {("in-cluster", "autoscale-gpu-duty-cycle")}
"""gpu-duty-cycle is a GKE system metric that only Managed Prometheus answers for: validation refuses
it with platform.metrics in-cluster (E315, tests/config/test_platform_checks.py)."""


def _cases() -> Iterator[Any]:
    for mode, platform in MODES.items():
        for name, endpoint in ENDPOINTS.items():
            text = (
                BASE
                + platform
                + f"endpoints: {json.dumps({'api': {**endpoint, 'logging': {'dataset': 'logs'}}})}\n"
            )
            if (mode, name) not in REFUSED:
                yield pytest.param(text + SLOS, id=f"{name}-{mode}")


def _example_cases() -> Iterator[Any]:
    for example in EXAMPLES:
        for mode, platform in MODES.items():
            if mode == "in-cluster" and example.parent.name == "digits":
                continue  # it scales on gpu-duty-cycle, refused in-cluster (E315)
            yield pytest.param(example, platform, id=f"{example.parent.name}-{mode}")


def _with_platform(tmp_path: pathlib.Path, example: pathlib.Path, platform: str) -> pathlib.Path:
    """A copy of the example's folder in ``tmp_path``, its mlops.yaml with ``platform`` appended."""
    folder = tmp_path / example.parent.name
    shutil.copytree(example.parent, folder)
    copy = folder / example.name
    copy.write_text(copy.read_text(encoding="utf-8") + "\n" + platform, encoding="utf-8")
    return copy


@pytest.mark.parametrize("text", list(_cases()))
def test_small_configs_query_only_collected_series(tmp_path: pathlib.Path, text: str) -> None:
    [(graph, config)] = [(g, c) for g, c in compiled(write(tmp_path, text)) if g.target.env == "dev"]
    found = list(queries(graph, config))
    assert found, "every case has alert rules at least"
    assert [p for q in found for p in problems(q)] == []


@pytest.mark.parametrize(("example", "platform"), list(_example_cases()))
def test_examples_query_only_collected_series(
    tmp_path: pathlib.Path, example: pathlib.Path, platform: str
) -> None:
    targets = compiled(_with_platform(tmp_path, example, platform))
    assert [p for g, c in targets for q in queries(g, c) for p in problems(q)] == []


def _graph(tmp_path: pathlib.Path, text: str) -> tuple[Graph, MLOpsConfig]:
    [(graph, config)] = [(g, c) for g, c in compiled(write(tmp_path, text)) if g.target.env == "dev"]
    return graph, config


def _frontend_queries(graph: Graph) -> list[str]:
    """The queries Flagger and KEDA send to the Prometheus API (GMP's frontend when managed)."""
    found = []
    for r in graph:
        if r.inputs.get("kind") == "InferenceService":
            metrics = r.inputs["spec"]["predictor"]["autoScaling"]["metrics"]
            found += [m["external"]["metric"]["query"] for m in metrics if "external" in m]
        elif r.inputs.get("kind") == "Canary":
            found += [m["query"] for m in r.inputs["spec"]["analysis"]["metrics"]]
    return found


SCALED_CANARY = BASE + (
    "endpoints:\n  api:\n"
    "    variants:\n"
    "      a: {model: t, version: v1, nodePool: gpu, accelerators: 1,"
    " autoscaling: {metric: gpu-duty-cycle, target: 60}}\n"
    "      b: {model: t, version: v1, autoscaling: {metric: rps, target: 5}}\n"
    "    rollout: {strategy: canary, baseline: a, candidate: b, analysis: {interval: 1m}}\n"
)


def test_managed_frontend_queries_keep_to_the_targets_cluster(tmp_path: pathlib.Path) -> None:
    graph, config = _graph(tmp_path, SCALED_CANARY)
    cluster = cluster_name(config, graph.target)
    found = _frontend_queries(graph)
    assert len(found) == 4
    for query in found:
        for selector in selectors(query):
            label = "cluster_name" if series_name(selector).startswith("kubernetes_io:") else "cluster"
            pins = {(m.name, str(m.op), m.value) for m in selector.matchers.matchers}
            assert (label, "MatchOp.Equal", cluster) in pins, query


@pytest.mark.parametrize("platform", MODES.values(), ids=MODES.keys())
def test_keda_triggers_ask_the_clusters_prometheus(tmp_path: pathlib.Path, platform: str) -> None:
    scaled = (
        SCALED_CANARY if platform != IN_CLUSTER else SCALED_CANARY.replace("gpu-duty-cycle", "concurrency")
    )
    graph, config = _graph(tmp_path, scaled + platform)
    addresses = {
        m["external"]["metric"]["serverAddress"]
        for r in graph
        if r.inputs.get("kind") == "InferenceService"
        for m in r.inputs["spec"]["predictor"]["autoScaling"]["metrics"]
    }
    assert addresses == {prometheus_url(config)}
