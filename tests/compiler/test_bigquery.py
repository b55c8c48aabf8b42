from __future__ import annotations

import json
import pathlib

import pytest
from helpers import STAGED, compile_text

from mlopsctl.compiler.bigquery import DATASET, NEVER_EXPIRES, TABLE
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource

DEV = Target("dev", "us-central1")
KEY_ID = "projects/acme-demo-dev/locations/us-central1/keyRings/demo-dev/cryptoKeys/data"
DATA = """\
data:
  datasets:
    logs:
      labels: {purpose: logs}
      tables:
        declared_requests:
          description: Declared by the user.
          schema: [{name: ts, type: TIMESTAMP}]
    features:
      tables:
        baseline: {schema: [{name: x, type: FLOAT64}]}
"""
WORKLOADS = """\
models:
  clf:
    framework: sklearn
    versions:
      v1: {artifactUri: "gs://models-bucket/clf/v1"}
endpoints:
  fraud-api:
    variants:
      main: {model: clf, version: v1}
    logging: {dataset: logs}
  second:
    variants:
      main: {model: clf, version: v1}
    logging: {dataset: logs, table: fraud_api_requests}
  declared:
    variants:
      main: {model: clf, version: v1}
    logging: {dataset: logs, table: declared_requests}
monitors:
  fraud-drift:
    type: drift
    endpoint: fraud-api
    baseline: {dataset: features, table: baseline}
    features: {x: {kind: numeric}}
    schedule: {cron: "0 * * * *"}
"""
KEYS = """\
security:
  kms:
    data: {}
  defaultKmsKey: data
"""
CONFIG = DATA + WORKLOADS + KEYS


RUN = ["run_time", "monitor", "feature", "kind", "distance", "threshold"]
"""The columns both tables of a drift or skew monitor start with."""


def _graph(tmp_path: pathlib.Path) -> Graph:
    dev_only = STAGED.replace("regions: [us-central1, europe-west4]", "regions: [us-central1]")
    return compile_text(tmp_path, dev_only + CONFIG)[DEV]


def _table(graph: Graph, name: str) -> Resource:
    return graph.resources[f"dev/us-central1/{TABLE}/{name}"]


def _columns(table: Resource) -> list[tuple[str, str, str]]:
    return [(c["name"], c["type"], c["mode"]) for c in json.loads(table.inputs["schema"])]


def test_endpoint_request_log_table(tmp_path: pathlib.Path) -> None:
    table = _table(_graph(tmp_path), "logs.fraud_api_requests")
    assert table.inputs["datasetId"] == "logs_dev_us_central1"
    assert table.inputs["tableId"] == "fraud_api_requests"
    assert _columns(table) == [
        ("timestamp", "TIMESTAMP", "REQUIRED"),
        ("request_id", "STRING", "REQUIRED"),
        ("endpoint", "STRING", "REQUIRED"),
        ("variant", "STRING", "NULLABLE"),
        ("model", "STRING", "NULLABLE"),
        ("model_version", "STRING", "NULLABLE"),
        ("request", "JSON", "NULLABLE"),
        ("response", "JSON", "NULLABLE"),
        ("latency_ms", "FLOAT64", "NULLABLE"),
        ("status", "INT64", "NULLABLE"),
    ]
    assert table.inputs["timePartitioning"] == {"type": "DAY", "field": "timestamp"}
    assert table.inputs["clusterings"] == ["variant"]
    assert table.source == ("endpoints", "fraud-api", "logging")


def test_endpoints_naming_one_log_table_share_it(tmp_path: pathlib.Path) -> None:
    graph = _graph(tmp_path)
    logs = [r.name for r in graph if r.type == TABLE and r.name.startswith("logs.")]
    assert sorted(logs) == ["logs.declared_requests", "logs.fraud_api_requests"]


def test_a_declared_table_of_the_same_name_wins(tmp_path: pathlib.Path) -> None:
    table = _table(_graph(tmp_path), "logs.declared_requests")
    assert table.inputs["description"] == "Declared by the user."
    assert _columns(table) == [("ts", "TIMESTAMP", "NULLABLE")]
    assert table.source == ("data", "datasets", "logs", "tables", "declared_requests")


@pytest.mark.parametrize(
    ("name", "columns"),
    [
        ("features.fraud_drift_statistics", [*RUN, "serving_count", "baseline_count", "statistics"]),
        ("features.fraud_drift_alerts", RUN),
    ],
)
def test_drift_monitor_tables_live_in_the_baseline_dataset(
    tmp_path: pathlib.Path, name: str, columns: list[str]
) -> None:
    table = _table(_graph(tmp_path), name)
    assert table.inputs["datasetId"] == "features_dev_us_central1"
    assert [c for c, _, _ in _columns(table)] == columns
    assert table.inputs["timePartitioning"] == {"type": "DAY", "field": "run_time"}
    assert table.inputs["clusterings"] == ["feature"]
    assert table.source == ("monitors", "fraud-drift", "baseline")


@pytest.mark.parametrize(
    "name", ["logs.fraud_api_requests", "features.fraud_drift_statistics", "features.fraud_drift_alerts"]
)
def test_implied_tables_are_protected_like_declared_ones(tmp_path: pathlib.Path, name: str) -> None:
    graph = _graph(tmp_path)
    table = _table(graph, name)
    dataset = name.split(".")[0]
    assert table.protect
    assert table.inputs["deletionProtection"] is False  # protected by the Pulumi resource option
    assert table.inputs["encryptionConfiguration"] == {"kmsKeyName": KEY_ID}
    assert table.depends_on == (f"dev/us-central1/{DATASET}/{dataset}",)
    assert table.inputs["labels"]["managed-by"] == "mlopsctl"
    if dataset == "logs":
        assert table.inputs["labels"]["purpose"] == "logs"


RETENTION = """\
data:
  datasets:
    logs:
      defaultTableExpiration: 30d
      generatedTables: {retention: 400d}
      tables:
        declared_requests: {partitioning: {type: DAY, field: ts}, schema: [{name: ts, type: TIMESTAMP}]}
        scratch: {schema: [{name: x, type: FLOAT64}]}
    features:
      tables:
        baseline: {schema: [{name: x, type: FLOAT64}]}
"""
DAY_MS = 86400 * 1000


@pytest.mark.parametrize(
    ("name", "partition_expiration", "expiration_time"),
    [
        # mlopsctl's tables keep 400 days of partitions, and outlive the dataset's 30-day default.
        ("logs.fraud_api_requests", 400 * DAY_MS, NEVER_EXPIRES),
        # A declared request log keeps its own partitioning, but is written: it outlives the default.
        ("logs.declared_requests", None, NEVER_EXPIRES),
        # The user's other tables follow the dataset's default.
        ("logs.scratch", None, None),
        # Tables of a dataset without retention and without a default are kept, whole.
        ("features.fraud_drift_statistics", None, None),
        ("features.fraud_drift_alerts", None, None),
    ],
)
def test_generated_tables_keep_their_own_retention(
    tmp_path: pathlib.Path, name: str, partition_expiration: int | None, expiration_time: int | None
) -> None:
    dev_only = STAGED.replace("regions: [us-central1, europe-west4]", "regions: [us-central1]")
    graph = compile_text(tmp_path, dev_only + RETENTION + WORKLOADS)[DEV]
    table = _table(graph, name)
    assert table.inputs.get("expirationTime") == expiration_time
    assert table.inputs.get("timePartitioning", {}).get("expirationMs") == partition_expiration
    logs = graph.resources[f"dev/us-central1/{DATASET}/logs"]
    assert logs.inputs["defaultTableExpirationMs"] == 30 * DAY_MS


def test_never_expires_is_the_last_day_bigquery_timestamps_reach() -> None:
    import datetime

    moment = datetime.datetime.fromtimestamp(NEVER_EXPIRES / 1000, tz=datetime.UTC)
    assert moment == datetime.datetime(9999, 12, 31, tzinfo=datetime.UTC)
