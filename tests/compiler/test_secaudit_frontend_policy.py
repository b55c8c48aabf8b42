"""GMP's query frontend answers as a Google account that reads every metric of the project, without
asking for credentials: a NetworkPolicy admits to its port only the pods that send the graph's queries
(KEDA's operator, Flagger's controller), by namespace and by the labels their charts give them."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Mapping
from typing import Any

import pytest
from conftest import ROOT
from helpers import MINIMAL, compile_text
from upstream_schemas import UpstreamSchemas

from mlopsctl.compiler.cluster import CLUSTER
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource

DEV = Target("dev", "us-central1")
MODELS = "models:\n  clf: {framework: sklearn, versions: {v1: {artifactUri: gs://acme-models/clf/1}}}\n"
KEDA = "endpoints:\n  api:\n    variants:\n      main: {model: clf, version: v1}\n"
"""An endpoint KEDA scales on requests per second (the default), through the frontend."""
FLAGGER = (
    "endpoints:\n  api:\n    variants:\n"
    "      a: {model: clf, version: v1, autoscaling: {metric: cpu}}\n"
    "      b: {model: clf, version: v1, autoscaling: {metric: memory}}\n"
    "    rollout: {strategy: canary, baseline: a, candidate: b, analysis: {}}\n"
)
"""A canary whose analysis Flagger queries; nothing scales on a query."""
BOTH = FLAGGER.replace("autoscaling: {metric: cpu}", "autoscaling: {metric: rps, target: 50}")
CASES = {"keda": (KEDA, {"keda"}), "flagger": (FLAGGER, {"flagger"}), "both": (BOTH, {"keda", "flagger"})}
ADDONS = json.loads((ROOT / "mlopsctl/data/addons.json").read_text(encoding="utf-8"))["addons"]

# Pods as the charts mlopsctl installs label them (release name = add-on name).
KEDA_OPERATOR = {
    "app": "keda-operator",
    "name": "keda-operator",
    "app.kubernetes.io/name": "keda-operator",
    "app.kubernetes.io/component": "operator",
    "app.kubernetes.io/part-of": "keda-operator",
    "app.kubernetes.io/managed-by": "Helm",
    "app.kubernetes.io/instance": "keda",
    "app.kubernetes.io/version": "2.20.2",
    "helm.sh/chart": "keda-2.20.2",
}
"""kedacore/charts keda 2.20.2, templates/manager/deployment.yaml."""
KEDA_METRICS_SERVER = {
    **KEDA_OPERATOR,
    "app": "keda-operator-metrics-apiserver",
    "app.kubernetes.io/name": "keda-operator-metrics-apiserver",
}
"""It asks the operator (gRPC) for the values, and queries nothing itself."""
FLAGGER_CONTROLLER = {
    "app.kubernetes.io/name": "flagger",
    "app.kubernetes.io/instance": "flagger",
    "app.kubernetes.io/version": "1.44.0",
}
"""fluxcd/flagger charts/flagger 1.44.0, templates/deployment.yaml."""
PODS = {
    "keda": (ADDONS["keda"]["namespace"], KEDA_OPERATOR),
    "flagger": (ADDONS["flagger"]["namespace"], FLAGGER_CONTROLLER),
}
OTHERS = {
    "metrics-server": (ADDONS["keda"]["namespace"], KEDA_METRICS_SERVER),
    "predictor": ("demo", {"app": "isvc.api-main-predictor", "component": "predictor"}),
    "lookalike-in-project": ("demo", KEDA_OPERATOR),
    "lookalike-elsewhere": ("default", FLAGGER_CONTROLLER),
    "istiod": ("istio-system", {"app": "istiod", "istio": "pilot"}),
}


def _graph(tmp_path: pathlib.Path, text: str) -> Graph:
    return compile_text(tmp_path, MINIMAL + MODELS + text)[DEV]


def _policies(graph: Graph) -> list[Resource]:
    return [r for r in graph if r.is_kubernetes and r.inputs["kind"] == "NetworkPolicy"]


def _frontend(graph: Graph) -> tuple[Resource, Resource]:
    """The frontend's Deployment and its NetworkPolicy."""
    [deployment] = [
        r for r in graph if r.is_kubernetes and r.inputs["kind"] == "Deployment" and r.name == "gmp-frontend"
    ]
    [policy] = [p for p in _policies(graph) if p.inputs["metadata"]["namespace"] == "gmp-public"]
    return deployment, policy


def _matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    return set(selector) == {"matchLabels"} and selector["matchLabels"].items() <= labels.items()


def _admits(spec: Mapping[str, Any], pod: tuple[str, Mapping[str, str]], port: int) -> bool:
    """Whether ingress rules of peers with a namespace and a pod selector and numeric TCP ports admit
    a connection from ``pod`` (namespace, labels) to ``port``."""
    namespace = {"kubernetes.io/metadata.name": pod[0]}
    return any(
        any(
            _matches(p["namespaceSelector"], namespace) and _matches(p["podSelector"], pod[1])
            for p in rule["from"]
        )
        and {"protocol": "TCP", "port": port} in rule["ports"]
        for rule in spec["ingress"]
    )


@pytest.mark.parametrize("case", CASES)
def test_the_frontend_admits_its_queriers_only(
    tmp_path: pathlib.Path, upstream_schemas: UpstreamSchemas, case: str
) -> None:
    text, queriers = CASES[case]
    deployment, policy = _frontend(_graph(tmp_path, text))
    assert upstream_schemas.validate(dict(policy.inputs)) == []
    spec = policy.inputs["spec"]
    # It selects the frontend's pods, and so refuses them every connection its rules do not admit.
    assert spec["podSelector"] == deployment.inputs["spec"]["selector"]
    assert _matches(spec["podSelector"], deployment.inputs["spec"]["template"]["metadata"]["labels"])
    assert spec["policyTypes"] == ["Ingress"]
    [container] = deployment.inputs["spec"]["template"]["spec"]["containers"]
    [port] = [p["containerPort"] for p in container["ports"]]
    for name, pod in PODS.items():
        assert _admits(spec, pod, port) is (name in queriers), name
        assert not _admits(spec, pod, port + 1), name
    for name, pod in OTHERS.items():
        assert not _admits(spec, pod, port), name


def test_the_policy_is_in_place_before_the_frontend_runs(tmp_path: pathlib.Path) -> None:
    deployment, policy = _frontend(_graph(tmp_path, BOTH))
    assert policy.address in deployment.depends_on
    assert policy.inputs["metadata"]["name"] == "frontend"
    assert policy.source == deployment.source


def test_the_cluster_enforces_network_policy(tmp_path: pathlib.Path) -> None:
    """Dataplane V2 (Cilium) enforces NetworkPolicy without the network policy add-on."""
    [cluster] = [r for r in _graph(tmp_path, KEDA) if r.type == CLUSTER]
    assert cluster.inputs["datapathProvider"] == "ADVANCED_DATAPATH"


def test_no_frontend_no_policy(tmp_path: pathlib.Path) -> None:
    in_cluster = _graph(tmp_path, BOTH + "platform: {metrics: in-cluster}\n")
    assert not [p for p in _policies(in_cluster) if p.inputs["metadata"]["namespace"] == "gmp-public"]
