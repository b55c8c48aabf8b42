"""Each workload reads and writes only the buckets and tables it uses; shared accounts share grants."""

from __future__ import annotations

import pathlib

from helpers import OWNED_STAGED, compile_text
from iam_cases import DEV, EDIT, READ, SESSIONS, USE, VIEW, _grants, _member

from mlopsctl.compiler.iam import BUCKET_IAM_MEMBER, DATASET_IAM_MEMBER, PROJECT_IAM_MEMBER, TABLE_IAM_MEMBER

PIPELINE = """\
data:
  buckets:
    raw: {}
    unrelated: {}
    models: {}
  datasets:
    logs: {}
    other: {}
models:
  clf:
    framework: sklearn
    versions:
      v1: {artifactUri: "gs://${project}-${env}-${region}-models/clf/v1"}
pipelines:
  train:
    steps:
      ingest: {kind: ingest, image: ingest:1, source: {gcs: raw/incoming/}, outputs: {examples: dataset}}
      fit:
        kind: train
        image: fit:1
        command: [fit]
        inputs: {data: ingest.examples}
        outputs: {model: model}
      check:
        kind: evaluate
        image: eval:1
        inputs: {model: fit.model, examples: ingest.examples}
        thresholds: {auc_roc: {min: 0.9}}
      push: {kind: push, image: push:1, model: clf, inputs: {model: fit.model}, dependsOn: [check]}
endpoints:
  api:
    variants:
      main: {model: clf, version: v1}
    logging: {dataset: logs}
"""


def test_pipeline_reads_its_ingest_bucket_and_writes_its_model_bucket_only(tmp_path: pathlib.Path) -> None:
    graph = compile_text(tmp_path, OWNED_STAGED + PIPELINE)[DEV]
    pipeline = {g for g in _grants(graph) if g[1].startswith("pipeline-train-")}
    assert pipeline == {
        (BUCKET_IAM_MEMBER, "pipeline-train-object-viewer-raw", VIEW, "demo-dev-us-central1-raw"),
        (BUCKET_IAM_MEMBER, "pipeline-train-object-user-models", USE, "demo-dev-us-central1-models"),
        (
            BUCKET_IAM_MEMBER,
            "pipeline-train-object-user-pipeline-root",
            USE,
            "demo-dev-us-central1-pipeline-root",
        ),
    }


def test_endpoint_reads_its_model_bucket_and_edits_only_its_log_table(tmp_path: pathlib.Path) -> None:
    graph = compile_text(tmp_path, OWNED_STAGED + PIPELINE)[DEV]
    endpoint = {g for g in _grants(graph) if g[1].startswith("endpoint-api-")}
    assert endpoint == {
        (BUCKET_IAM_MEMBER, "endpoint-api-object-viewer-models", VIEW, "demo-dev-us-central1-models"),
        (TABLE_IAM_MEMBER, "endpoint-api-data-editor-logs-api_requests", EDIT, "api_requests"),
    }
    editor = _member(graph, "endpoint-api-data-editor-logs-api_requests")
    assert editor.inputs["project"] == "acme-demo-dev"
    assert editor.source == ("endpoints", "api", "logging", "dataset")


SHARED = """\
data:
  buckets:
    raw: {}
security:
  serviceAccounts:
    shared:
      roles: [roles/aiplatform.user, roles/monitoring.metricWriter]
pipelines:
  a:
    serviceAccount: shared
    steps:
      ingest:
        kind: ingest
        image: ingest:1
        source: {gcs: raw/a/}
        secrets: {TOKEN: api-token}
        outputs: {examples: dataset}
  b:
    serviceAccount: shared
    steps:
      ingest:
        kind: ingest
        image: ingest:1
        source: {gcs: raw/b/}
        secrets: {TOKEN: api-token/versions/3, OTHER: projects/vault-prj/secrets/api-token}
        outputs: {examples: dataset}
"""


def test_workloads_sharing_a_declared_account_share_its_grants(tmp_path: pathlib.Path) -> None:
    """... and no secret: the secret reader fills the Kubernetes Secrets the steps read."""
    graph = compile_text(tmp_path, OWNED_STAGED + SHARED)[DEV]
    assert _grants(graph) == {
        (
            BUCKET_IAM_MEMBER,
            "account-shared-object-user-pipeline-root",
            USE,
            "demo-dev-us-central1-pipeline-root",
        ),
        (BUCKET_IAM_MEMBER, "account-shared-object-viewer-raw", VIEW, "demo-dev-us-central1-raw"),
        (PROJECT_IAM_MEMBER, "account-shared-aiplatform-user", "roles/aiplatform.user", "acme-demo-dev"),
        (
            PROJECT_IAM_MEMBER,
            "account-shared-monitoring-metric-writer",
            "roles/monitoring.metricWriter",
            "acme-demo-dev",
        ),
    }
    assert _member(graph, "account-shared-aiplatform-user").source == (
        "security",
        "serviceAccounts",
        "shared",
        "roles",
    )


BATCH = """\
data:
  buckets:
    scores: {}
  datasets:
    features: {}
models:
  clf:
    framework: sklearn
    versions:
      v1: {artifactUri: "gs://${project}-${env}-${region}-scores/model"}
endpoints:
  api: {variants: {main: {model: clf, version: v1}}}
batchJobs:
  score:
    model: clf
    version: v1
    input: {bigquery: {dataset: features, table: daily}}
    output: {gcs: scores/out/}
"""


def test_writing_a_bucket_makes_reading_it_redundant(tmp_path: pathlib.Path) -> None:
    graph = compile_text(tmp_path, OWNED_STAGED + BATCH)[DEV]
    assert {g for g in _grants(graph) if g[1].startswith("batch-")} == {
        (
            BUCKET_IAM_MEMBER,
            "batch-score-object-user-pipeline-root",
            USE,
            "demo-dev-us-central1-pipeline-root",
        ),
        (BUCKET_IAM_MEMBER, "batch-score-object-user-scores", USE, "demo-dev-us-central1-scores"),
        # The input table is not one mlopsctl creates: its dataset is read.
        (DATASET_IAM_MEMBER, "batch-score-data-viewer-features", READ, "features_dev_us_central1"),
        (PROJECT_IAM_MEMBER, "batch-score-bigquery-read-session-user", SESSIONS, "acme-demo-dev"),
    }
