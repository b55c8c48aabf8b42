"""Pipelines ingest feature views (their group's source table, granted on exactly that) and endpoints
fetch feature values online from the views they list, on GKE and on Vertex AI."""

from __future__ import annotations

import json
import pathlib
import sys
from typing import Any

import pytest
from helpers import CLF_API, OWNED_STAGED_DATA, compile_text

from mlopsctl.compiler.iam import DATASET_IAM_MEMBER, PROJECT_IAM_MEMBER, TABLE_IAM_MEMBER
from mlopsctl.compiler.vertex_features import FEATURE_VIEW, FEATURE_VIEW_IAM_MEMBER
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource
from mlopsctl.pulumi.program import create

sys.path.append(str(pathlib.Path(__file__).resolve().parents[1] / "pulumi"))  # the shared Pulumi mocks
from feature_cases import FEATURES
from mocked import Recorder, run

DEV = Target("dev", "us-central1")
PIPELINES = """\
pipelines:
  churn:
    steps:
      ingest:
        kind: ingest
        source: {featureView: customer-profile}
        label: churned
        outputs: {examples: dataset}
  everything:
    steps:
      ingest:
        kind: ingest
        source: {featureView: all-customers}
        outputs: {examples: dataset}
"""
ENDPOINT = CLF_API + "    features: [customer-profile, all-customers]\n"
CONFIG = (
    OWNED_STAGED_DATA + FEATURES.replace("features: [age, churned]", "features: [age]") + PIPELINES + ENDPOINT
)
TABLE = "acme-demo-dev.features_dev_us_central1.customers"
PIPELINE_ACCOUNT = "serviceAccount:pl-churn-dev-usc1@acme-demo-dev.iam.gserviceaccount.com"
ENDPOINT_ACCOUNT = "serviceAccount:ep-api-dev-usc1@acme-demo-dev.iam.gserviceaccount.com"
VIEW_NAME = "projects/acme-demo-dev/locations/us-central1/featureOnlineStores/online_dev/featureViews/{}"
ON_VERTEX = "placement: {pipelines: vertex, endpoints: vertex}\n"


def _graph(tmp_path: pathlib.Path, text: str = CONFIG) -> Graph:
    graph: Graph = compile_text(tmp_path, text)[DEV]
    return graph


def _ingest_config(graph: Graph, pipeline: str) -> Any:
    """The ``--config`` of the ingest step of ``pipeline``, from the spec that goes to the target."""
    for resource in graph:
        if resource.type.endswith(":PipelineVersion") and resource.name.startswith(f"{pipeline}-"):
            spec = resource.inputs["spec"]["pipelineSpec"]
        elif (
            resource.type == "gcp:storage/bucketObject:BucketObject"
            and resource.name == f"pipeline-{pipeline}"
        ):
            spec = json.loads(resource.inputs["content"])
        else:
            continue
        args = spec["deploymentSpec"]["executors"]["exec-ingest"]["container"]["args"]
        return json.loads(args[args.index("--config") + 1])
    raise AssertionError(f"no compiled spec of {pipeline}")


def _grants(graph: Graph, member: str) -> dict[tuple[str, str], Resource]:
    """The IAM members of ``member`` by (type, role)."""
    return {
        (r.type, r.inputs["role"]): r
        for r in graph
        if r.type.lower().endswith("iammember") and r.inputs.get("member") == member
    }


@pytest.mark.parametrize("placement", ["", ON_VERTEX])
@pytest.mark.parametrize(
    ("pipeline", "columns", "label"),
    [
        ("churn", ["customer_id", "age", "churned"], "churned"),  # the view's features and the label
        ("everything", ["customer_id", "age", "country", "spend"], None),  # all of the group's features
    ],
)
def test_an_ingest_of_a_view_reads_its_columns_of_the_groups_source_table(
    tmp_path: pathlib.Path, placement: str, pipeline: str, columns: list[str], label: str | None
) -> None:
    config = _ingest_config(_graph(tmp_path, CONFIG + placement), pipeline)
    assert config["source"] == {"bigquery": {"table": TABLE, "columns": columns}}
    assert config["label"] == label


@pytest.mark.parametrize("placement", ["", ON_VERTEX])
@pytest.mark.parametrize(
    ("tables", "type_", "scope"),
    [
        ("", DATASET_IAM_MEMBER, {"datasetId": "features_dev_us_central1"}),  # not created by mlopsctl
        (
            "      tables:\n        customers: {schema: ["
            + ", ".join(f"{{name: {c}, type: STRING}}" for c in ("customer_id", "age", "country", "spend"))
            + "]}\n",
            TABLE_IAM_MEMBER,
            {"datasetId": "features_dev_us_central1", "tableId": "customers"},
        ),
    ],
)
def test_the_pipeline_may_read_exactly_the_source_table(
    tmp_path: pathlib.Path, placement: str, tables: str, type_: str, scope: dict[str, str]
) -> None:
    text = CONFIG.replace(
        "    features: {}\n", f"    features:\n{tables}" if tables else "    features: {}\n"
    )
    grants = _grants(_graph(tmp_path, text + placement), PIPELINE_ACCOUNT)
    reader = grants.pop((type_, "roles/bigquery.dataViewer"))
    assert dict(reader.inputs) == {
        **scope,
        "project": "acme-demo-dev",
        "role": "roles/bigquery.dataViewer",
        "member": PIPELINE_ACCOUNT,
    }
    assert reader.source == ("pipelines", "churn", "steps", "ingest", "source", "featureView")
    assert (PROJECT_IAM_MEMBER, "roles/bigquery.readSessionUser") in grants
    # A table read needs no query job, and nothing is granted on the feature store.
    assert (PROJECT_IAM_MEMBER, "roles/bigquery.jobUser") not in grants
    assert not [key for key in grants if "vertex" in key[0]]


@pytest.mark.parametrize("placement", ["", ON_VERTEX])
def test_the_endpoint_may_fetch_values_of_exactly_its_views(tmp_path: pathlib.Path, placement: str) -> None:
    graph = _graph(tmp_path, CONFIG + placement)
    reads = {r.inputs["featureView"]: r for r in graph if r.type == FEATURE_VIEW_IAM_MEMBER}
    assert sorted(reads) == ["all_customers", "customer_profile"]
    profile = reads["customer_profile"]
    assert dict(profile.inputs) == {
        "project": "acme-demo-dev",
        "region": "us-central1",
        "featureOnlineStore": "online_dev",
        "featureView": "customer_profile",
        "role": "roles/aiplatform.featurestoreDataViewer",
        "member": ENDPOINT_ACCOUNT,
    }
    assert profile.source == ("endpoints", "api", "features", 0)
    assert set(profile.depends_on) == {
        f"{DEV}/{FEATURE_VIEW}/customer-profile",
        f"{DEV}/gcp:serviceaccount/account:Account/endpoint-api",
    }
    others = _grants(graph, ENDPOINT_ACCOUNT)
    assert not [
        role for (_, role) in others if role.startswith("roles/aiplatform.") and "featurestore" not in role
    ]


def test_no_endpoint_listing_no_view_is_granted(tmp_path: pathlib.Path) -> None:
    graph = _graph(tmp_path, CONFIG.replace("    features: [customer-profile, all-customers]\n", ""))
    assert not [r for r in graph if r.type == FEATURE_VIEW_IAM_MEMBER]


def test_on_gke_the_model_servers_are_told_each_view(tmp_path: pathlib.Path) -> None:
    graph = _graph(tmp_path)
    [service] = [r for r in graph if r.type.endswith(":InferenceService")]
    assert service.inputs["spec"]["predictor"]["model"]["env"] == [
        {"name": "MLOPSCTL_FEATURE_VIEW_CUSTOMER_PROFILE", "value": VIEW_NAME.format("customer_profile")},
        {"name": "MLOPSCTL_FEATURE_VIEW_ALL_CUSTOMERS", "value": VIEW_NAME.format("all_customers")},
    ]
    grants = {r.address for r in graph if r.type == FEATURE_VIEW_IAM_MEMBER}
    assert grants <= set(service.depends_on)  # served once it may read


def test_on_vertex_ai_the_deployment_waits_for_the_grants(tmp_path: pathlib.Path) -> None:
    graph = _graph(tmp_path, CONFIG + ON_VERTEX)
    [deployment] = [r for r in graph if r.type == "mlopsctl:vertex/deployment:Deployment"]
    grants = {r.address for r in graph if r.type == FEATURE_VIEW_IAM_MEMBER}
    assert grants <= set(deployment.depends_on)
    assert "MLOPSCTL_FEATURE_VIEW" not in json.dumps(deployment.inputs)  # a version's container is shared


def test_the_pulumi_program_registers_the_online_reads(tmp_path: pathlib.Path) -> None:
    graph = _graph(tmp_path)
    recorder = Recorder()
    run(lambda: create(graph), recorder, stack="dev-us-central1")
    [read, _] = sorted(
        recorder.by_type(FEATURE_VIEW_IAM_MEMBER), key=lambda r: r.inputs["featureView"] != "customer_profile"
    )
    assert read.inputs == {
        "project": "acme-demo-dev",
        "region": "us-central1",
        "featureOnlineStore": "online_dev",
        "featureView": "customer_profile",
        "role": "roles/aiplatform.featurestoreDataViewer",
        "member": ENDPOINT_ACCOUNT,
    }
    view = recorder.one(FEATURE_VIEW, "customer-profile")
    assert view.urn in read.dependencies
