"""Install order of add-ons that look for another add-on's CRDs once, when they start.

KServe watches the ScaledObjects it creates for KEDA autoscaling only if KEDA's CRD was served
when its controller started. The Pulumi program installs add-ons that do not depend on each
other at the same time, so KServe must wait for KEDA where the cluster gets both.
"""

from __future__ import annotations

import pathlib

from helpers import STAGED, compile_text

from mlopsctl.config.target import Target
from mlopsctl.graph import HELM_RELEASE, Graph
from mlopsctl.output.argocd import applications

DEV = Target("dev", "us-central1")
ENDPOINT = (
    "models:\n  m: {framework: sklearn, versions: {v1: {artifactUri: gs://acme-models/m/1}}}\n"
    "endpoints:\n  score:\n    variants:\n      main: {model: m, version: v1, autoscaling: {metric: %s}}\n"
)


def _graph(tmp_path: pathlib.Path, metric: str) -> Graph:
    return compile_text(tmp_path, STAGED + ENDPOINT % metric)[DEV]


def _address(name: str) -> str:
    return f"{DEV.env}/{DEV.region}/{HELM_RELEASE}/{name}"


def test_kserve_is_installed_after_keda_when_the_cluster_gets_both(tmp_path: pathlib.Path) -> None:
    graph = _graph(tmp_path, "rps")  # KServe hands rps scaling to KEDA
    kserve = graph.resources[_address("kserve")]
    assert _address("keda") in kserve.depends_on
    order = [r.name for r in graph.ordered() if r.is_addon]
    assert order.index("keda") < order.index("kserve")
    waves = {
        name: app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]
        for name, app in applications(graph, {}).items()
    }
    assert int(waves["keda"]) < int(waves["kserve"])


def test_without_keda_kserve_waits_only_for_what_it_requires(tmp_path: pathlib.Path) -> None:
    graph = _graph(tmp_path, "cpu")  # an HPA: no KEDA in the cluster
    assert _address("keda") not in graph.resources
    assert set(graph.resources[_address("kserve")].depends_on) == {
        _address("cert-manager"),
        _address("kserve-crd"),
    }
