"""An endpoint on Vertex AI that reads feature views online: the model versions it serves carry the
same ``MLOPSCTL_FEATURE_VIEW_<VIEW>`` environment as its model servers on GKE."""

from __future__ import annotations

import pathlib
import sys

import pytest
from helpers import OWNED_STAGED_DATA, compile_text

from mlopsctl.compiler.vertex_models import MODEL_VERSION
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource
from mlopsctl.plan.resource_types import replace_paths
from mlopsctl.pulumi.program import create
from mlopsctl.pulumi.vertex.resources import PULUMI_TYPES

sys.path.append(str(pathlib.Path(__file__).resolve().parents[1] / "pulumi"))  # the shared Pulumi mocks
from feature_cases import FEATURES
from mocked import Recorder, run

DEV = Target("dev", "us-central1")
MODELS = """\
models:
  clf:
    framework: sklearn
    versions:
      v1: {artifactUri: "gs://models-bucket/clf/v1"}
  reg:
    framework: xgboost
    versions:
      v1: {artifactUri: "gs://models-bucket/reg/v1"}
"""
VIEW = "projects/acme-demo-dev/locations/us-central1/featureOnlineStores/online_dev/featureViews/{}"
PROFILE = {"name": "MLOPSCTL_FEATURE_VIEW_CUSTOMER_PROFILE", "value": VIEW.format("customer_profile")}
EVERYTHING = {"name": "MLOPSCTL_FEATURE_VIEW_ALL_CUSTOMERS", "value": VIEW.format("all_customers")}
ON_VERTEX = "placement: {endpoints: vertex}\n"


def _endpoint(name: str, model: str, features: list[str]) -> str:
    listed = f"    features: [{', '.join(features)}]\n" if features else ""
    return f"  {name}:\n    variants:\n      main: {{model: {model}, version: v1}}\n{listed}"


def _graph(tmp_path: pathlib.Path, *endpoints: str, placement: str = ON_VERTEX) -> Graph:
    text = OWNED_STAGED_DATA + FEATURES + MODELS + "endpoints:\n" + "".join(endpoints) + placement
    graph: Graph = compile_text(tmp_path, text)[DEV]
    return graph


def _version(graph: Graph, model: str) -> Resource:
    return graph.resources[f"{DEV}/{MODEL_VERSION}/{model}@v1"]


def test_the_served_version_gets_the_views_as_gke_model_servers_do(tmp_path: pathlib.Path) -> None:
    vertex = _graph(tmp_path, _endpoint("api", "clf", ["customer-profile", "all-customers"]))
    gke = _graph(
        tmp_path, _endpoint("api", "clf", ["customer-profile", "all-customers"]), placement="placement: {}\n"
    )
    [service] = [r for r in gke if r.type.endswith(":InferenceService")]
    assert _version(vertex, "clf").inputs["containerEnv"] == [PROFILE, EVERYTHING]
    assert service.inputs["spec"]["predictor"]["model"]["env"] == [PROFILE, EVERYTHING]


@pytest.mark.parametrize(
    ("endpoints", "expected"),
    [
        ([_endpoint("api", "clf", [])], {"clf": None}),
        (
            [_endpoint("api", "clf", ["customer-profile"]), _endpoint("batch", "reg", ["all-customers"])],
            {"clf": [PROFILE], "reg": [EVERYTHING]},
        ),
        (
            [_endpoint("api", "clf", ["all-customers"]), _endpoint("batch", "clf", ["customer-profile"])],
            {"clf": [EVERYTHING, PROFILE]},
        ),
        (
            [_endpoint("api", "clf", ["customer-profile"]), _endpoint("plain", "clf", [])],
            {"clf": [PROFILE]},
        ),
    ],
    ids=["no-views", "a-version-each", "shared-version-union", "shared-with-plain"],
)
def test_each_version_names_the_views_of_the_endpoints_serving_it(
    tmp_path: pathlib.Path, endpoints: list[str], expected: dict[str, list[dict[str, str]] | None]
) -> None:
    graph = _graph(tmp_path, *endpoints)
    found = {m: _version(graph, m).inputs.get("containerEnv") for m in expected}
    assert found == expected


def test_a_new_environment_is_a_new_version() -> None:
    before = {"modelId": "demo-clf", "artifactUri": "gs://models-bucket/clf/v1"}
    after = {**before, "containerEnv": [PROFILE]}
    assert replace_paths(MODEL_VERSION, before, after) == ("containerEnv",)


def test_the_pulumi_program_passes_the_environment_to_the_model_version(tmp_path: pathlib.Path) -> None:
    graph = _graph(tmp_path, _endpoint("api", "clf", ["customer-profile"]))
    recorder = Recorder()
    run(lambda: create(graph), recorder, stack="dev-us-central1")
    version = recorder.one(PULUMI_TYPES[MODEL_VERSION], "clf@v1")
    assert version.inputs["containerEnv"] == [PROFILE]
