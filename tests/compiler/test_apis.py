from __future__ import annotations

import pathlib

import pytest
from conftest import ROOT
from helpers import OWNED_STAGED_DATA, compile_text

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


VERTEX_PIPELINE = """\
placement: {pipelines: vertex}
pipelines:
  train:
    steps:
      fit: {image: trainer:1, command: [fit]}
"""


@pytest.mark.parametrize(
    ("starts", "expected"),
    [
        ("", set()),  # started by hand (or by a monitor): the Vertex AI API only
        ('    schedule: {cron: "0 3 * * *"}\n', {"cloudscheduler"}),
        ("    triggers:\n      - newData: {bucket: raw, prefix: in/}\n", {"cloudscheduler", "run"}),
    ],
)
def test_pipelines_on_vertex_ai_enable_what_starts_their_runs(
    tmp_path: pathlib.Path, starts: str, expected: set[str]
) -> None:
    graph = compile_text(tmp_path, OWNED_STAGED_DATA + VERTEX_PIPELINE + starts)[DEV]
    services = {r.name for r in graph if r.type == SERVICE}
    assert "aiplatform" in services
    assert services & {"cloudscheduler", "run"} == expected
    for resource in graph:
        if resource.type.startswith(("gcp:cloudscheduler/", "gcp:cloudrunv2/")):
            assert api_of(resource.type) in {f"{name}.googleapis.com" for name in expected}


def test_pipelines_on_gke_enable_neither_scheduler_nor_vertex_ai(tmp_path: pathlib.Path) -> None:
    text = (
        OWNED_STAGED_DATA + VERTEX_PIPELINE.replace("vertex", "gke") + '    schedule: {cron: "0 3 * * *"}\n'
    )
    services = {r.name for r in compile_text(tmp_path, text)[DEV] if r.type == SERVICE}
    assert not services & {"aiplatform", "cloudscheduler", "run"}
