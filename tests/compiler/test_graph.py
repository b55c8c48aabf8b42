from __future__ import annotations

import pathlib

import pytest
from helpers import MINIMAL, OWNED, WITH_DATA, write

from mlopsctl.api import compile_graphs, validate
from mlopsctl.compiler.provenance import PROVENANCE, without
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource

DEV = Target("dev", "us-central1")


def _graphs(tmp_path: pathlib.Path, text: str) -> dict[Target, Graph]:
    validation = validate(ConfigSource(write(tmp_path, text), "mlops.yaml", None))
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    return compile_graphs(validation)


def _get(graph: Graph, type_token: str, name: str) -> Resource:
    return graph.resources[f"{graph.target}/{type_token}/{name}"]


def test_one_graph_per_environment_and_region(tmp_path: pathlib.Path) -> None:
    assert list(_graphs(tmp_path, WITH_DATA)) == [
        DEV,
        Target("prod", "us-central1"),
        Target("prod", "europe-west4"),
    ]


def test_buckets_are_private_and_protected(tmp_path: pathlib.Path) -> None:
    bucket = _get(_graphs(tmp_path, WITH_DATA)[DEV], "gcp:storage/bucket:Bucket", "raw")
    assert bucket.protect
    assert bucket.inputs["name"] == "demo-dev-us-central1-raw"
    assert bucket.inputs["publicAccessPrevention"] == "enforced"
    assert bucket.inputs["uniformBucketLevelAccess"] is True
    assert bucket.inputs["forceDestroy"] is False
    assert bucket.inputs["location"] == "US-CENTRAL1"
    assert bucket.source == ("data", "buckets", "raw")


def test_dataset_ids_and_tables(tmp_path: pathlib.Path) -> None:
    text = (
        MINIMAL
        + """\
data:
  datasets:
    sensor-data:
      tables:
        readings:
          schema:
            - {name: ts, type: TIMESTAMP, mode: REQUIRED}
            - {name: sensor, type: STRING}
            - {name: value, type: FLOAT64}
          partitioning: {field: ts, expiration: 30d}
          clustering: [sensor]
"""
    )
    graph = _graphs(tmp_path, text)[DEV]
    dataset = _get(graph, "gcp:bigquery/dataset:Dataset", "sensor-data")
    table = _get(graph, "gcp:bigquery/table:Table", "sensor-data.readings")
    assert dataset.inputs["datasetId"] == "sensor_data_dev_us_central1"
    assert table.depends_on == (dataset.address,)
    assert table.inputs["timePartitioning"] == {
        "type": "DAY",
        "field": "ts",
        "expirationMs": 30 * 86400 * 1000,
    }
    assert table.inputs["clusterings"] == ["sensor"]
    assert '"name":"ts"' in table.inputs["schema"]
    assert table.inputs["deletionProtection"] is False  # protected by the Pulumi resource option


def test_workload_identity_binds_kubernetes_and_google_accounts(tmp_path: pathlib.Path) -> None:
    text = (
        OWNED
        + """\
pipelines:
  train:
    steps: {fit: {image: trainer, command: [train]}}
"""
    )
    graph = _graphs(tmp_path, text)[DEV]
    gsa = _get(graph, "gcp:serviceaccount/account:Account", "pipeline-train")
    ksa = _get(graph, "kubernetes:core/v1:ServiceAccount", "pipeline-train-dev-usc1")
    binding = _get(graph, "gcp:serviceaccount/iAMMember:IAMMember", "pipeline-train-workload-identity")
    email = f"{gsa.inputs['accountId']}@acme-demo-dev.iam.gserviceaccount.com"
    annotations = without(ksa.type, ksa.inputs, PROVENANCE)["metadata"]["annotations"]
    assert annotations == {"iam.gke.io/gcp-service-account": email}
    assert (
        binding.inputs["member"] == "serviceAccount:acme-demo-dev.svc.id.goog[demo/pipeline-train-dev-usc1]"
    )
    assert binding.inputs["role"] == "roles/iam.workloadIdentityUser"
    # The binding needs the account and the cluster's identity pool; what runs as the Kubernetes account
    # waits for it, and for every grant to the Google account.
    [cluster] = graph.of_type("gcp:container/cluster:Cluster")
    assert set(binding.depends_on) == {gsa.address, cluster.address}
    grants = {r.address for r in graph if r.inputs.get("member") == f"serviceAccount:{email}"}
    assert grants and {binding.address, gsa.address} | grants <= set(ksa.depends_on)


def test_cmek_key_is_created_and_referenced(tmp_path: pathlib.Path) -> None:
    text = WITH_DATA + "security:\n  kms:\n    data: {}\n  defaultKmsKey: data\n"
    graph = _graphs(tmp_path, text)[DEV]
    bucket = _get(graph, "gcp:storage/bucket:Bucket", "raw")
    key = _get(graph, "gcp:kms/cryptoKey:CryptoKey", "data")
    assert bucket.inputs["encryption"] == {
        "defaultKmsKeyName": (
            "projects/acme-demo-dev/locations/us-central1/keyRings/demo-dev/cryptoKeys/data"
        )
    }
    assert key.address in bucket.depends_on and key.protect


@pytest.mark.parametrize("token", ["gcp:storage/bucket:Bucket", "kubernetes:core/v1:Namespace"])
def test_addresses_are_stable_and_human(tmp_path: pathlib.Path, token: str) -> None:
    graph = _graphs(tmp_path, WITH_DATA)[DEV]
    assert any(a.startswith(f"dev/us-central1/{token}/") for a in graph.resources)


def test_graph_orders_dependencies_first() -> None:
    graph = Graph(DEV, "p")
    graph.add(Resource(DEV, "t:a/b:C", "child", {}, depends_on=("dev/us-central1/t:a/b:C/parent",)))
    graph.add(Resource(DEV, "t:a/b:C", "parent", {}))
    assert [r.name for r in graph.ordered()] == ["parent", "child"]
    with pytest.raises(ValueError, match="duplicate"):
        graph.add(Resource(DEV, "t:a/b:C", "parent", {}))


def test_regions_of_one_project_do_not_share_workload_identities(tmp_path: pathlib.Path) -> None:
    text = OWNED + "pipelines:\n  train:\n    steps: {fit: {image: trainer, command: [train]}}\n"
    graphs = _graphs(tmp_path, text)
    members = {
        r.inputs["member"]: r.inputs["serviceAccountId"]
        for target in (Target("prod", "us-central1"), Target("prod", "europe-west4"))
        for r in graphs[target]
        if r.type == "gcp:serviceaccount/iAMMember:IAMMember"
    }
    assert len(members) == 2 and len(set(members.values())) == 2
