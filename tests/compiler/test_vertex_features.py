"""The feature store: groups over BigQuery tables, online stores and views, with Vertex AI ids."""

from __future__ import annotations

import hashlib
import pathlib
import re
import sys
from typing import Any

import pytest
from helpers import STAGED_DATA, compile_text

from mlopsctl.compiler.apis import SERVICE_IDENTITY
from mlopsctl.compiler.iam import DATASET_IAM_MEMBER
from mlopsctl.compiler.provenance import PROVENANCE, without
from mlopsctl.compiler.vertex_features import (
    FEATURE,
    FEATURE_GROUP,
    FEATURE_VIEW,
    ONLINE_STORE,
    feature_id,
)
from mlopsctl.config.target import Target
from mlopsctl.graph import JSON, Graph, Resource, fn_output
from mlopsctl.plan.resource_types import replace_paths
from mlopsctl.pulumi.program import create

sys.path.append(str(pathlib.Path(__file__).resolve().parents[1] / "pulumi"))  # the shared Pulumi mocks
from mocked import Recorder, run

DEV = Target("dev", "us-central1")
PROD = Target("prod", "europe-west4")
FEATURES = """\
features:
  groups:
    customers:
      source: {dataset: features, table: customers}
      entityIdColumns: [customer_id]
      features: [Age, spend-30d, country]
      description: Customer features.
      labels: {team: risk}
  onlineStores:
    low-latency: {type: optimized}
    big-table: {type: bigtable, bigtable: {minNodes: 2, maxNodes: 6, cpuTarget: 60}}
  views:
    customer-profile: {store: low-latency, group: customers, features: [Age, country], sync: "30 2 * * *"}
    all-customers: {store: big-table, group: customers}
"""
VERTEX_ID = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
"""Feature groups, online stores and views (pulumi-gcp's docs: at most 60 of [a-z0-9_], no leading digit)."""
FEATURE_ID = re.compile(r"^[a-z][a-z0-9_]{0,127}$")
LABELS = {
    "managed-by": "mlopsctl",
    "mlops-env": "dev",
    "mlops-project": "demo",
    "mlops-region": "us-central1",
}
AGENT = f"{DEV}/{SERVICE_IDENTITY}/aiplatform"


def _graph(tmp_path: pathlib.Path, text: str = STAGED_DATA + FEATURES, target: Target = DEV) -> Graph:
    graph: Graph = compile_text(tmp_path, text)[target]
    return graph


def _one(graph: Graph, type_: str, name: str) -> Any:
    return graph.resources[f"{graph.target}/{type_}/{name}"]


def _bare(resource: Resource) -> dict[str, JSON]:
    """The inputs of ``resource`` without its provenance labels (tests/compiler/test_provenance.py)."""
    return without(resource.type, resource.inputs, PROVENANCE)


def _digest(column: str) -> str:
    return hashlib.sha256(column.encode()).hexdigest()[:6]


def test_a_feature_group_registers_its_columns_over_the_source_table(tmp_path: pathlib.Path) -> None:
    graph = _graph(tmp_path)
    group = _one(graph, FEATURE_GROUP, "customers")
    assert _bare(group) == {
        "name": "customers_dev",
        "project": "acme-demo-dev",
        "region": "us-central1",
        "bigQuery": {
            "bigQuerySource": {"inputUri": "bq://acme-demo-dev.features_dev_us_central1.customers"},
            "entityIdColumns": ["customer_id"],
        },
        "labels": {**LABELS, "team": "risk"},
        "description": "Customer features.",
    }
    agent_grant = f"{DEV}/{DATASET_IAM_MEMBER}/aiplatform-agent-data-viewer-features"
    assert set(group.depends_on) == {f"{DEV}/gcp:bigquery/dataset:Dataset/features", agent_grant}
    features = {r.name: r for r in graph if r.type == FEATURE}
    assert sorted(features) == ["customers.Age", "customers.country", "customers.spend-30d"]
    assert _bare(features["customers.spend-30d"]) == {
        "name": f"spend_30d_{_digest('spend-30d')}",
        "project": "acme-demo-dev",
        "region": "us-central1",
        "featureGroup": "customers_dev",
        "versionColumnName": "spend-30d",
        "labels": {**LABELS, "team": "risk"},
    }
    assert features["customers.Age"].inputs["name"] == "age"
    assert all(f.depends_on == (group.address,) for f in features.values())
    assert all(FEATURE_ID.match(f.inputs["name"]) for f in features.values())


def test_online_stores_are_optimized_or_bigtable(tmp_path: pathlib.Path) -> None:
    graph = _graph(tmp_path)
    optimized = _bare(_one(graph, ONLINE_STORE, "low-latency"))
    bigtable = _one(graph, ONLINE_STORE, "big-table").inputs
    assert optimized == {
        "name": "low_latency_dev",
        "project": "acme-demo-dev",
        "region": "us-central1",
        "labels": LABELS,
        "optimized": {},
    }
    assert bigtable["bigtable"] == {
        "autoScaling": {"minNodeCount": 2, "maxNodeCount": 6, "cpuUtilizationTarget": 60}
    }
    assert "optimized" not in bigtable and bigtable["name"] == "big_table_dev"


def test_only_online_stores_are_protected(tmp_path: pathlib.Path) -> None:
    """An online store holds the values endpoints fetch; groups and views are definitions over BigQuery."""
    graph = _graph(tmp_path)
    protected = {
        r.type for r in graph if r.protect and r.type in (FEATURE_GROUP, FEATURE, ONLINE_STORE, FEATURE_VIEW)
    }
    assert protected == {ONLINE_STORE}


def test_views_serve_the_features_they_name_or_all_of_the_group(tmp_path: pathlib.Path) -> None:
    graph = _graph(tmp_path)
    profile = _one(graph, FEATURE_VIEW, "customer-profile")
    assert _bare(profile) == {
        "name": "customer_profile",
        "project": "acme-demo-dev",
        "region": "us-central1",
        "featureOnlineStore": "low_latency_dev",
        "featureRegistrySource": {
            "featureGroups": [{"featureGroupId": "customers_dev", "featureIds": ["age", "country"]}]
        },
        "syncConfig": {"cron": "30 2 * * *"},
        "labels": LABELS,
    }
    assert set(profile.depends_on) == {
        f"{DEV}/{ONLINE_STORE}/low-latency",
        f"{DEV}/{FEATURE}/customers.Age",
        f"{DEV}/{FEATURE}/customers.country",
        f"{DEV}/{DATASET_IAM_MEMBER}/aiplatform-agent-data-viewer-features",
    }
    everything = _one(graph, FEATURE_VIEW, "all-customers").inputs
    [group] = everything["featureRegistrySource"]["featureGroups"]
    assert group["featureIds"] == ["age", f"spend_30d_{_digest('spend-30d')}", "country"]
    assert everything["syncConfig"] == {"cron": "0 * * * *"}


def test_every_name_is_a_vertex_id_unique_per_environment(tmp_path: pathlib.Path) -> None:
    text = (STAGED_DATA + FEATURES).replace("gcpProject: acme-demo-prod", "gcpProject: acme-demo-dev")
    graphs = compile_text(tmp_path, text)
    named = (FEATURE_GROUP, ONLINE_STORE, FEATURE_VIEW)
    for graph in graphs.values():
        assert all(VERTEX_ID.match(r.inputs["name"]) for r in graph if r.type in named)
    dev, prod = (
        {r.inputs["name"] for r in graphs[t] if r.type in (FEATURE_GROUP, ONLINE_STORE)} for t in (DEV, PROD)
    )
    assert not dev & prod  # one GCP project and region may hold both environments


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ("age", "age"),
        ("Age", "age"),
        ("spend_30d", "spend_30d"),
        ("spend-30d", f"spend_30d_{_digest('spend-30d')}"),
        ("spend 30d", f"spend_30d_{_digest('spend 30d')}"),
        ("9lives", f"f_9lives_{_digest('9lives')}"),
        ("_private", f"f__private_{_digest('_private')}"),
        ("x" * 200, f"{'x' * 120}_{_digest('x' * 200)}"),
    ],
)
def test_feature_ids_from_columns(column: str, expected: str) -> None:
    assert feature_id(column) == expected
    assert FEATURE_ID.match(expected)


def test_the_vertex_ai_service_agent_reads_the_source_dataset_only(tmp_path: pathlib.Path) -> None:
    graph = _graph(tmp_path)
    agent = _one(graph, SERVICE_IDENTITY, "aiplatform")
    assert dict(agent.inputs) == {"project": "acme-demo-dev", "service": "aiplatform.googleapis.com"}
    assert agent.depends_on == (f"{DEV}/gcp:projects/service:Service/aiplatform",)
    [grant] = [r for r in graph if r.inputs.get("member") == fn_output(AGENT, "member")]
    assert grant.type == DATASET_IAM_MEMBER
    assert dict(grant.inputs) == {
        "datasetId": "features_dev_us_central1",
        "project": "acme-demo-dev",
        "role": "roles/bigquery.dataViewer",
        "member": fn_output(AGENT, "member"),
    }
    assert set(grant.depends_on) == {AGENT, f"{DEV}/gcp:bigquery/dataset:Dataset/features"}


def test_a_declared_source_table_is_created_before_its_group(tmp_path: pathlib.Path) -> None:
    columns = "customer_id, Age, spend_30d, country"  # the group's entity id column and features
    schema = ", ".join(f"{{name: {c}, type: STRING}}" for c in columns.split(", "))
    table = f"        customers:\n          schema: [{schema}]\n"
    text = (STAGED_DATA + FEATURES.replace("spend-30d", "spend_30d")).replace(
        "    features: {}\n", f"    features:\n      tables:\n{table}"
    )
    group = _one(_graph(tmp_path, text), FEATURE_GROUP, "customers")
    assert f"{DEV}/gcp:bigquery/table:Table/features.customers" in group.depends_on


@pytest.mark.parametrize("placement", ["", "placement: {pipelines: vertex, endpoints: vertex}\n"])
def test_the_feature_store_is_the_same_on_either_placement(tmp_path: pathlib.Path, placement: str) -> None:
    graph = _graph(tmp_path, STAGED_DATA + FEATURES + placement)
    kinds = (FEATURE_GROUP, FEATURE, ONLINE_STORE, FEATURE_VIEW, SERVICE_IDENTITY)
    assert len([r for r in graph if r.type in kinds]) == 1 + 3 + 2 + 2 + 1


def test_no_feature_store_without_features(tmp_path: pathlib.Path) -> None:
    graph = _graph(tmp_path, STAGED_DATA)
    assert not [r for r in graph if r.type.startswith("gcp:vertex/") or r.type == SERVICE_IDENTITY]


def test_the_pulumi_program_registers_the_feature_store(tmp_path: pathlib.Path) -> None:
    graph = _graph(tmp_path)
    member = "serviceAccount:service-123456789012@gcp-sa-aiplatform.iam.gserviceaccount.com"
    recorder = Recorder()  # its ServiceIdentity reports the agent's member, as pulumi-gcp's does
    run(lambda: create(graph), recorder, stack="dev-us-central1")
    optimized = recorder.one(ONLINE_STORE, "low-latency")
    assert optimized.inputs["optimized"] == {} and optimized.inputs["name"] == "low_latency_dev"
    view = recorder.one(FEATURE_VIEW, "customer-profile").inputs
    assert view["featureRegistrySource"] == {
        "featureGroups": [{"featureGroupId": "customers_dev", "featureIds": ["age", "country"]}]
    }
    assert (
        recorder.one(DATASET_IAM_MEMBER, "aiplatform-agent-data-viewer-features").inputs["member"] == member
    )
    assert len(recorder.by_type(FEATURE)) == 3


def test_with_the_default_key_a_bigtable_store_is_encrypted_and_an_optimized_one_cannot_be(
    tmp_path: pathlib.Path,
) -> None:
    """Only Bigtable online serving takes a customer-managed key (Vertex AI's docs)."""
    keyed = STAGED_DATA + FEATURES + "security:\n  kms:\n    data: {}\n  defaultKmsKey: data\n"
    graph = _graph(tmp_path, keyed)
    bigtable, optimized = (_one(graph, ONLINE_STORE, n) for n in ("big-table", "low-latency"))
    key = "projects/acme-demo-dev/locations/us-central1/keyRings/demo-dev/cryptoKeys/data"
    assert bigtable.inputs["encryptionSpec"] == {"kmsKeyName": key}
    assert f"{DEV}/gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember/aiplatform-agent-data" in bigtable.depends_on
    assert "encryptionSpec" not in optimized.inputs


def test_a_new_key_replaces_the_bigtable_store_in_the_plan_and_in_pulumi(tmp_path: pathlib.Path) -> None:
    """Vertex AI takes a store's key only at creation, though the provider would send it as an update."""
    keyed = STAGED_DATA + FEATURES + "security:\n  kms:\n    data: {}\n  defaultKmsKey: data\n"
    before = _one(_graph(tmp_path / "a"), ONLINE_STORE, "big-table").inputs
    graph = _graph(tmp_path / "b", keyed)
    after = _one(graph, ONLINE_STORE, "big-table").inputs
    assert replace_paths(ONLINE_STORE, before, after) == ("encryptionSpec",)
    recorder = Recorder()
    run(lambda: create(graph), recorder)
    assert recorder.one(ONLINE_STORE, "big-table").replace_on_changes == ("encryptionSpec",)
    assert recorder.one(ONLINE_STORE, "low-latency").replace_on_changes == ("encryptionSpec",)
