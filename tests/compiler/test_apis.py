from __future__ import annotations

from conftest import ROOT

from mlopsctl.api import compile_graphs, validate
from mlopsctl.compiler.apis import SERVICE, api_of
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph

DEV, PROD = Target("dev", "us-central1"), Target("prod", "us-central1")


def _digits(target: Target) -> Graph:
    path = ROOT / "examples" / "projects" / "digits" / "mlops.yaml"
    return compile_graphs(validate(ConfigSource(path, "mlops.yaml", None)))[target]


def test_the_apis_the_graph_uses_are_enabled_and_never_disabled() -> None:
    services = {r.name: r.inputs for r in _digits(DEV) if r.type == SERVICE}
    assert sorted(services) == [
        "artifactregistry",
        "bigquery",
        "cloudresourcemanager",
        "compute",
        "container",
        "iam",
        "monitoring",
        "secretmanager",
        "storage",
    ]
    assert services["container"] == {
        "project": "acme-digits-dev",
        "service": "container.googleapis.com",
        "disableOnDestroy": False,
        "disableDependentServices": False,
    }
    assert "cloudkms" in {r.name for r in _digits(PROD) if r.type == SERVICE}  # prod has a CMEK key


def test_each_module_the_build_emits_has_its_api() -> None:
    for graph in (_digits(DEV), _digits(PROD)):
        for resource in graph:
            assert (
                api_of(resource.type) or resource.type == SERVICE or not resource.type.startswith("gcp:")
            ), resource.address
