"""Workloads that read or write one table are granted on that table, not on its dataset."""

from __future__ import annotations

import pathlib

import pytest
from conftest import EXAMPLES
from helpers import CLF_API, OWNED_STAGED, compile_text
from test_service_accounts import graphs_of, validated

from mlopsctl.compiler.iam import (
    DATASET_IAM_MEMBER,
    PROJECT_IAM_MEMBER,
    SECRET_IAM_MEMBER,
    TABLE_IAM_MEMBER,
)
from mlopsctl.config.naming import request_log_table
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph

DEV = Target("dev", "us-central1")
READ, EDIT = "roles/bigquery.dataViewer", "roles/bigquery.dataEditor"
METADATA = "roles/bigquery.metadataViewer"
JOBS, SESSIONS = "roles/bigquery.jobUser", "roles/bigquery.readSessionUser"
BIGQUERY = (DATASET_IAM_MEMBER, TABLE_IAM_MEMBER, PROJECT_IAM_MEMBER)


def _of(graph: Graph, account: str) -> set[tuple[str, str, str]]:
    """(type, role, dataset id, dataset.table or project) of an account's BigQuery and project grants."""
    found = set()
    for r in graph:
        if r.type in BIGQUERY and r.name.startswith(f"{account}-"):
            on = r.inputs.get("datasetId", r.inputs.get("project"))
            if r.type == TABLE_IAM_MEMBER:
                on = f"{on}.{r.inputs['tableId']}"
            found.add((r.type, r.inputs["role"], str(on)))
    return found


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.parent.name for p in EXAMPLES])
def test_endpoints_edit_their_request_log_table_and_no_dataset(path: pathlib.Path) -> None:
    logged = 0
    for target, graph in graphs_of(path).items():
        config = validated(path).targets[target].config
        if config.placement.endpoints == "vertex":
            continue  # Vertex AI's own service agent writes the log (tests/compiler/test_vertex_serving.py)
        for name, endpoint in config.endpoints.items():
            if endpoint.logging is None or endpoint.service_account is not None:
                continue
            dataset = f"{endpoint.logging.dataset}_{target.env}_{target.region}".replace("-", "_")
            table = request_log_table(name, endpoint.logging.table)
            assert _of(graph, f"endpoint-{name}") == {(TABLE_IAM_MEMBER, EDIT, f"{dataset}.{table}")}
            logged += 1
    assert logged


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.parent.name for p in EXAMPLES])
def test_no_workload_reads_a_secret_itself(path: pathlib.Path) -> None:
    """Steps read Kubernetes Secrets that the secret reader fills; monitors notify through
    Cloud Monitoring's alert policies."""
    for graph in graphs_of(path).values():
        holders = {r.name for r in graph if r.type == SECRET_IAM_MEMBER}
        assert all(name.startswith("secret-reader-") for name in holders), holders


TABLES = (
    """\
data:
  buckets:
    scores: {}
  datasets:
    serving:
      tables:
        baseline: {schema: [{name: x, type: FLOAT64}]}
    features:
      tables:
        daily: {schema: [{name: x, type: FLOAT64}]}
        scored: {schema: [{name: prediction, type: FLOAT64}]}
    outside: {}
"""
    + CLF_API
    + """\
    logging: {dataset: serving}
monitors:
  declared-baseline:
    type: drift
    endpoint: api
    baseline: {dataset: serving, table: baseline}
    features: {x: {kind: numeric}}
    schedule: {cron: "0 * * * *"}
  other-baseline:
    type: skew
    endpoint: api
    baseline: {dataset: outside, table: made_elsewhere}
    features: {x: {kind: numeric}}
    schedule: {cron: "0 * * * *"}
batchJobs:
  declared:
    model: clf
    version: v1
    input: {bigquery: {dataset: features, table: daily}}
    output: {bigquery: {dataset: features, table: scored}}
  elsewhere:
    model: clf
    version: v1
    input: {bigquery: {dataset: features, table: daily}}
    output: {bigquery: {dataset: features, table: made_elsewhere}}
pipelines:
  query:
    triggers:
      - newData: {dataset: features, table: daily}
      - newData: {dataset: outside}
    steps:
      by-query:
        kind: ingest
        source: {bigquery: {dataset: outside, query: "SELECT 1"}}
        outputs: {examples: dataset}
      by-table:
        kind: ingest
        source: {bigquery: {dataset: features, table: daily}}
        outputs: {examples: dataset}
  watch:
    triggers:
      - newData: {dataset: features, table: daily}
      - newData: {dataset: outside}
    steps:
      fit: {kind: container, image: fit:1, command: [fit]}
"""
)
SERVING, FEATURES, OUTSIDE = "serving_dev_us_central1", "features_dev_us_central1", "outside_dev_us_central1"
PROJECT = "acme-demo-dev"

CASES = {
    "monitor with a declared baseline: the log, the baseline and its own tables": (
        "monitor-declared-baseline",
        {
            (TABLE_IAM_MEMBER, READ, f"{SERVING}.api_requests"),
            (TABLE_IAM_MEMBER, READ, f"{SERVING}.baseline"),
            (TABLE_IAM_MEMBER, EDIT, f"{SERVING}.declared_baseline_statistics"),
            (TABLE_IAM_MEMBER, EDIT, f"{SERVING}.declared_baseline_alerts"),
            (PROJECT_IAM_MEMBER, SESSIONS, PROJECT),
        },
    ),
    "monitor with a baseline mlopsctl does not create: its dataset": (
        "monitor-other-baseline",
        {
            (TABLE_IAM_MEMBER, READ, f"{SERVING}.api_requests"),
            (DATASET_IAM_MEMBER, READ, OUTSIDE),
            (TABLE_IAM_MEMBER, EDIT, f"{OUTSIDE}.other_baseline_statistics"),
            (TABLE_IAM_MEMBER, EDIT, f"{OUTSIDE}.other_baseline_alerts"),
            (PROJECT_IAM_MEMBER, SESSIONS, PROJECT),
        },
    ),
    "batch job between declared tables: streaming inserts need no job": (
        "batch-declared",
        {
            (TABLE_IAM_MEMBER, READ, f"{FEATURES}.daily"),
            (TABLE_IAM_MEMBER, EDIT, f"{FEATURES}.scored"),
            (PROJECT_IAM_MEMBER, SESSIONS, PROJECT),
        },
    ),
    "batch job writing a table mlopsctl does not create: editing the dataset covers reading": (
        "batch-elsewhere",
        {(DATASET_IAM_MEMBER, EDIT, FEATURES), (PROJECT_IAM_MEMBER, SESSIONS, PROJECT)},
    ),
    "pipeline: a query job, a declared table, and the metadata its triggers watch": (
        "pipeline-query",
        {
            (DATASET_IAM_MEMBER, READ, OUTSIDE),
            (PROJECT_IAM_MEMBER, JOBS, PROJECT),
            (TABLE_IAM_MEMBER, READ, f"{FEATURES}.daily"),
            (PROJECT_IAM_MEMBER, SESSIONS, PROJECT),
            # What its triggers watch is covered: it reads the table, and queries the dataset.
        },
    ),
    "pipeline watching a declared table and a dataset: their metadata": (
        "pipeline-watch",
        {(TABLE_IAM_MEMBER, METADATA, f"{FEATURES}.daily"), (DATASET_IAM_MEMBER, METADATA, OUTSIDE)},
    ),
}


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> Graph:
    return compile_text(tmp_path_factory.mktemp("tables"), OWNED_STAGED + TABLES)[DEV]


@pytest.mark.parametrize(("account", "expected"), CASES.values(), ids=CASES.keys())
def test_bigquery_grants(tables: Graph, account: str, expected: set[tuple[str, str, str]]) -> None:
    assert _of(tables, account) == expected
