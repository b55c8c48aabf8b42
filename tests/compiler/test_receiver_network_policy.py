"""The retrain receiver's NetworkPolicy: its webhook port open only to the pods of the Alertmanager of
the target's metrics mode, in the add-on's namespace; nothing open when it only pulls; strictly valid."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Mapping
from typing import Any

import pytest
from conftest import ROOT
from helpers import MINIMAL, compile_text, owned
from upstream_schemas import UpstreamSchemas
from vertex_retrain_cases import ON_KFP

from mlopsctl.compiler.alert_receiver import NAME, PORT
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource

DEV = Target("dev", "us-central1")
NAMESPACE = f"{DEV}/kubernetes:core/v1:Namespace/demo"
RETRAINING = (
    owned(MINIMAL).replace("  name: demo\n", "  name: demo\n  stageImage: stages:1\n")
    + """\
models:
  m: {framework: sklearn, versions: {v1: {artifactUri: gs://acme-models/m/1}}}
endpoints:
  api:
    variants: {main: {model: m, version: v1}}
pipelines:
  retrain:
    steps: {fit: {image: fit:1, command: [fit]}}
monitors:
  watch: {type: availability, endpoint: api, objective: 99.5, window: 1h, actions: {retrain: retrain}}
"""
)
MODES = {"managed": "", "in-cluster": "platform: {metrics: in-cluster}\n"}
ALERTMANAGER_PEERS = {
    "managed": {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "gmp-system"}},
        "podSelector": {
            "matchLabels": {
                "app": "managed-prometheus-alertmanager",
                "app.kubernetes.io/name": "alertmanager",
            }
        },
    },
    "in-cluster": {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
        "podSelector": {
            "matchLabels": {
                "app.kubernetes.io/name": "alertmanager",
                "app.kubernetes.io/managed-by": "prometheus-operator",
            }
        },
    },
}
ADDONS = {"managed": "google-managed-prometheus", "in-cluster": "kube-prometheus-stack"}

GMP_ALERTMANAGER = (
    "gmp-system",
    {
        "app": "managed-prometheus-alertmanager",
        "app.kubernetes.io/name": "alertmanager",
        "app.kubernetes.io/version": "0.17.3",
    },
)
"""A pod of GMP's managed Alertmanager as prometheus-engine's manifests/operator.yaml labels it."""
KPS_ALERTMANAGER = (
    "monitoring",
    {
        "app.kubernetes.io/name": "alertmanager",
        "app.kubernetes.io/managed-by": "prometheus-operator",
        "app.kubernetes.io/instance": "kube-prometheus-stack-alertmanager",
        "alertmanager": "kube-prometheus-stack-alertmanager",
        "app.kubernetes.io/version": "0.28.1",
    },
)
"""A pod of kube-prometheus-stack's Alertmanager as prometheus-operator (v0.93.0) labels it."""
KPS_PROMETHEUS = (
    "monitoring",
    {"app.kubernetes.io/name": "prometheus", "prometheus": "kube-prometheus-stack"},
)
LOOKALIKE = ("demo", KPS_ALERTMANAGER[1])
"""A pod in the project's namespace that copies the Alertmanager's labels."""
RULE_EVALUATOR = ("gmp-system", {"app": "managed-prometheus-rule-evaluator"})


def _graph(tmp_path: pathlib.Path, text: str) -> Graph:
    return compile_text(tmp_path, text)[DEV]


def _kinds(graph: Graph) -> dict[str, Resource]:
    return {r.inputs["kind"]: r for r in graph if r.is_kubernetes and r.inputs["metadata"]["name"] == NAME}


def _matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    return set(selector) == {"matchLabels"} and selector["matchLabels"].items() <= labels.items()


def _admits(spec: Mapping[str, Any], pod: tuple[str, dict[str, str]], port: int) -> bool:
    """Whether a NetworkPolicy's ingress rules (peers with a namespace and a pod selector, numeric
    TCP ports: what this policy uses) admit a connection from ``pod`` (namespace, labels) to ``port``."""
    namespace_labels = {"kubernetes.io/metadata.name": pod[0]}
    return any(
        any(
            _matches(peer["namespaceSelector"], namespace_labels) and _matches(peer["podSelector"], pod[1])
            for peer in rule["from"]
        )
        and {"protocol": "TCP", "port": port} in rule["ports"]
        for rule in spec["ingress"]
    )


@pytest.mark.parametrize("mode", MODES)
def test_the_webhook_port_is_open_to_the_alertmanager_pods_only(
    tmp_path: pathlib.Path, upstream_schemas: UpstreamSchemas, mode: str
) -> None:
    objects = _kinds(_graph(tmp_path, MODES[mode] + RETRAINING))
    policy = objects["NetworkPolicy"]
    assert upstream_schemas.validate(dict(policy.inputs)) == []
    assert policy.inputs["apiVersion"] == "networking.k8s.io/v1"
    deployment = objects["Deployment"].inputs
    assert policy.inputs["spec"] == {
        "podSelector": deployment["spec"]["selector"],
        "policyTypes": ["Ingress"],  # egress stays open: the receiver calls Google and KFP APIs
        "ingress": [{"from": [ALERTMANAGER_PEERS[mode]], "ports": [{"protocol": "TCP", "port": PORT}]}],
    }
    assert policy.inputs["metadata"]["labels"] == deployment["metadata"]["labels"]
    assert policy.inputs["metadata"]["namespace"] == "demo"
    assert policy.depends_on == (NAMESPACE,)
    assert policy.source == ("monitors", "watch", "actions")
    # The port the Service sends to: the container's port named http.
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert objects["Service"].inputs["spec"]["ports"][0]["targetPort"] == "http"
    assert {"name": "http", "containerPort": PORT} in container["ports"]


@pytest.mark.parametrize("mode", MODES)
def test_the_alertmanager_namespace_is_the_add_ons(tmp_path: pathlib.Path, mode: str) -> None:
    spec = _kinds(_graph(tmp_path, MODES[mode] + RETRAINING))["NetworkPolicy"].inputs["spec"]
    addons = json.loads((ROOT / "mlopsctl/data/addons.json").read_text())["addons"]
    [rule] = spec["ingress"]
    [peer] = rule["from"]
    assert peer["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": addons[ADDONS[mode]]["namespace"]
    }


@pytest.mark.parametrize(
    ("mode", "pod", "port", "admitted"),
    [
        ("managed", GMP_ALERTMANAGER, PORT, True),
        ("managed", GMP_ALERTMANAGER, 15020, False),
        ("managed", RULE_EVALUATOR, PORT, False),
        ("managed", KPS_ALERTMANAGER, PORT, False),
        ("managed", ("demo", GMP_ALERTMANAGER[1]), PORT, False),
        ("in-cluster", KPS_ALERTMANAGER, PORT, True),
        ("in-cluster", KPS_ALERTMANAGER, 15090, False),
        ("in-cluster", KPS_PROMETHEUS, PORT, False),
        ("in-cluster", LOOKALIKE, PORT, False),
        ("in-cluster", GMP_ALERTMANAGER, PORT, False),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_who_may_connect(
    tmp_path: pathlib.Path, mode: str, pod: tuple[str, dict[str, str]], port: int, admitted: bool
) -> None:
    spec = _kinds(_graph(tmp_path, MODES[mode] + RETRAINING))["NetworkPolicy"].inputs["spec"]
    assert _admits(spec, pod, port) is admitted


def test_a_receiver_that_only_pulls_admits_nothing(
    tmp_path: pathlib.Path, upstream_schemas: UpstreamSchemas
) -> None:
    objects = _kinds(_graph(tmp_path, ON_KFP))
    assert "Service" not in objects  # no Alertmanager route: the webhook port takes no traffic
    policy = objects["NetworkPolicy"]
    assert upstream_schemas.validate(dict(policy.inputs)) == []
    assert policy.inputs["spec"] == {
        "podSelector": objects["Deployment"].inputs["spec"]["selector"],
        "policyTypes": ["Ingress"],
        "ingress": [],
    }
    assert not _admits(policy.inputs["spec"], KPS_ALERTMANAGER, PORT)
    assert policy.depends_on == (NAMESPACE,)


def test_no_policy_without_a_receiver(tmp_path: pathlib.Path) -> None:
    graph = _graph(tmp_path, RETRAINING.replace(", actions: {retrain: retrain}", ""))
    assert not [
        r
        for r in graph
        if r.is_kubernetes and r.inputs["kind"] == "NetworkPolicy" and r.inputs["metadata"]["name"] == NAME
    ]
