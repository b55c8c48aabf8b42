from __future__ import annotations

import pathlib

import pytest
from conftest import EXAMPLES
from helpers import OWNED_STAGED, OWNED_STAGED_DATA, compile_text, write

from mlopsctl.api import Validation, compile_graphs, validate
from mlopsctl.compiler import kms
from mlopsctl.compiler.bigquery import DATASET, TABLE
from mlopsctl.compiler.context import BuildContext
from mlopsctl.compiler.iam import (
    BUCKET_IAM_MEMBER,
    DATASET_IAM_MEMBER,
    PROJECT_IAM_MEMBER,
    SECRET_IAM_MEMBER,
    TABLE_IAM_MEMBER,
)
from mlopsctl.compiler.identity import GSA
from mlopsctl.compiler.kms import CRYPTO_KEY, CRYPTO_KEY_IAM_MEMBER
from mlopsctl.compiler.storage import BUCKET
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource

DEV = Target("dev", "us-central1")
GRANTS = (BUCKET_IAM_MEMBER, DATASET_IAM_MEMBER, TABLE_IAM_MEMBER, SECRET_IAM_MEMBER, PROJECT_IAM_MEMBER)
ON = {
    BUCKET_IAM_MEMBER: "bucket",
    DATASET_IAM_MEMBER: "datasetId",
    TABLE_IAM_MEMBER: "tableId",
    SECRET_IAM_MEMBER: "secretId",
}
VIEW, USE, ADMIN = "roles/storage.objectViewer", "roles/storage.objectUser", "roles/storage.objectAdmin"
READ, EDIT = "roles/bigquery.dataViewer", "roles/bigquery.dataEditor"
JOBS, SESSIONS = "roles/bigquery.jobUser", "roles/bigquery.readSessionUser"
VERTEX_USER = "roles/aiplatform.user"


def _validated(name: str) -> Validation:
    [path] = [p for p in EXAMPLES if p.parent.name == name]
    return validate(ConfigSource(path, "mlops.yaml", None))


def _example(name: str) -> dict[Target, Graph]:
    return compile_graphs(_validated(name))


WORKLOADS = ("pipeline-", "endpoint-", "batch-", "monitor-", "account-")
"""The graph names of the workloads' accounts begin with their kind (the GKE nodes', the secret
reader's and the platform's own accounts are tested with them)."""


def _workload_grants(graph: Graph) -> list[Resource]:
    """The grants of workloads."""
    return [r for r in graph if r.type in GRANTS and r.name.startswith(WORKLOADS)]


def _grants(graph: Graph) -> set[tuple[str, str, str, str]]:
    """(type, name, role, what it is granted on: bucket, dataset id, secret or project)."""
    return {
        (r.type, r.name, r.inputs["role"], r.inputs[ON.get(r.type, "project")])
        for r in _workload_grants(graph)
    }


def _member(graph: Graph, name: str) -> Resource:
    [found] = [r for r in graph if r.type in GRANTS and r.name == name]
    return found


EXAMPLE_GRANTS = [
    (
        "digits",
        DEV,
        {
            (
                BUCKET_IAM_MEMBER,
                "pipeline-train-object-admin-pipeline-root",
                ADMIN,
                "digits-dev-us-central1-pipeline-root",
            ),
            (BUCKET_IAM_MEMBER, "pipeline-train-object-viewer-images", VIEW, "digits-dev-us-central1-images"),
            (BUCKET_IAM_MEMBER, "pipeline-train-object-user-models", USE, "digits-dev-us-central1-models"),
            (
                BUCKET_IAM_MEMBER,
                "endpoint-digits-object-viewer-models",
                VIEW,
                "digits-dev-us-central1-models",
            ),
            (
                TABLE_IAM_MEMBER,
                "endpoint-digits-data-editor-serving-digits_requests",
                EDIT,
                "digits_requests",
            ),
            # Its drift monitor reads the request log and the baseline (both in serving), a table
            # mlopsctl does not create: its dataset's viewer covers the request log too.
            (DATASET_IAM_MEMBER, "monitor-digits-drift-data-viewer-serving", READ, "serving_dev_us_central1"),
            (
                PROJECT_IAM_MEMBER,
                "monitor-digits-drift-bigquery-read-session-user",
                SESSIONS,
                "acme-digits-dev",
            ),
            *[
                (TABLE_IAM_MEMBER, f"monitor-digits-drift-data-editor-serving-{table}", EDIT, table)
                for table in ("digits_drift_statistics", "digits_drift_alerts")
            ],
        },
    ),
    (
        "sensor-anomaly",
        Target("dev", "europe-west1"),
        {
            *[
                (
                    BUCKET_IAM_MEMBER,
                    f"{who}-object-admin-pipeline-root",
                    ADMIN,
                    "sensors-dev-europe-west1-pipeline-root",
                )
                for who in ("pipeline-anomaly", "batch-daily-scores")
            ],
            # Its new-data trigger lists the objects under the prefix it watches.
            (
                BUCKET_IAM_MEMBER,
                "pipeline-anomaly-object-viewer-landing",
                VIEW,
                "sensors-dev-europe-west1-landing",
            ),
            # Its evaluate step logs each run to the pipeline's experiment (tracking.experiments).
            (PROJECT_IAM_MEMBER, "pipeline-anomaly-aiplatform-user", VERTEX_USER, "acme-sensors-dev"),
            # Ingest reads the declared table telemetry.readings through the Storage Read API.
            (TABLE_IAM_MEMBER, "pipeline-anomaly-data-viewer-telemetry-readings", READ, "readings"),
            (PROJECT_IAM_MEMBER, "pipeline-anomaly-bigquery-read-session-user", SESSIONS, "acme-sensors-dev"),
            (
                BUCKET_IAM_MEMBER,
                "pipeline-anomaly-object-user-models",
                USE,
                "sensors-dev-europe-west1-models",
            ),
            (
                BUCKET_IAM_MEMBER,
                "endpoint-detector-object-viewer-models",
                VIEW,
                "sensors-dev-europe-west1-models",
            ),
            (
                BUCKET_IAM_MEMBER,
                "endpoint-triage-object-viewer-models",
                VIEW,
                "sensors-dev-europe-west1-models",
            ),
            (
                TABLE_IAM_MEMBER,
                "endpoint-detector-data-editor-serving-detector_requests",
                EDIT,
                "detector_requests",
            ),
            (
                BUCKET_IAM_MEMBER,
                "batch-daily-scores-object-viewer-models",
                VIEW,
                "sensors-dev-europe-west1-models",
            ),
            (
                TABLE_IAM_MEMBER,
                "batch-daily-scores-data-viewer-features-daily_features",
                READ,
                "daily_features",
            ),
            (
                PROJECT_IAM_MEMBER,
                "batch-daily-scores-bigquery-read-session-user",
                SESSIONS,
                "acme-sensors-dev",
            ),
            (
                BUCKET_IAM_MEMBER,
                "batch-daily-scores-object-user-scores",
                USE,
                "sensors-dev-europe-west1-scores",
            ),
            *[
                grant
                for monitor, baseline, table in (
                    ("readings-drift", "features", "serving_baseline"),
                    ("readings-skew", "telemetry", "readings"),
                )
                for grant in (
                    (
                        TABLE_IAM_MEMBER,
                        f"monitor-{monitor}-data-viewer-serving-detector_requests",
                        READ,
                        "detector_requests",
                    ),
                    (
                        PROJECT_IAM_MEMBER,
                        f"monitor-{monitor}-bigquery-read-session-user",
                        SESSIONS,
                        "acme-sensors-dev",
                    ),
                    (TABLE_IAM_MEMBER, f"monitor-{monitor}-data-viewer-{baseline}-{table}", READ, table),
                    *[
                        (
                            TABLE_IAM_MEMBER,
                            f"monitor-{monitor}-data-editor-{baseline}-{monitor.replace('-', '_')}_{kind}",
                            EDIT,
                            f"{monitor.replace('-', '_')}_{kind}",
                        )
                        for kind in ("statistics", "alerts")
                    ],
                )
            ],
        },
    ),
    (
        "fraud-tpu",
        Target("prod", "europe-west4"),
        {
            (
                BUCKET_IAM_MEMBER,
                "pipeline-train-object-admin-pipeline-root",
                ADMIN,
                "fraud-prod-europe-west4-pipeline-root",
            ),
            (
                TABLE_IAM_MEMBER,
                "pipeline-train-data-viewer-features-training_transactions",
                READ,
                "training_transactions",
            ),
            (PROJECT_IAM_MEMBER, "pipeline-train-bigquery-read-session-user", SESSIONS, "acme-fraud-prod"),
            (BUCKET_IAM_MEMBER, "pipeline-train-object-user-models", USE, "fraud-prod-europe-west4-models"),
            (
                BUCKET_IAM_MEMBER,
                "endpoint-scorer-object-viewer-models",
                VIEW,
                "fraud-prod-europe-west4-models",
            ),
            (
                TABLE_IAM_MEMBER,
                "endpoint-scorer-data-editor-serving-scorer_requests",
                EDIT,
                "scorer_requests",
            ),
            (
                TABLE_IAM_MEMBER,
                "monitor-scorer-drift-data-viewer-serving-scorer_requests",
                READ,
                "scorer_requests",
            ),
            (
                PROJECT_IAM_MEMBER,
                "monitor-scorer-drift-bigquery-read-session-user",
                SESSIONS,
                "acme-fraud-prod",
            ),
            (
                TABLE_IAM_MEMBER,
                "monitor-scorer-drift-data-viewer-features-training_transactions",
                READ,
                "training_transactions",
            ),
            *[
                (
                    TABLE_IAM_MEMBER,
                    f"monitor-scorer-drift-data-editor-features-scorer_drift_{kind}",
                    EDIT,
                    table,
                )
                for kind, table in (
                    ("statistics", "scorer_drift_statistics"),
                    ("alerts", "scorer_drift_alerts"),
                )
            ],
        },
    ),
]


@pytest.mark.parametrize(("example", "target", "expected"), EXAMPLE_GRANTS)
def test_examples_grant_exactly_what_their_references_need(
    example: str, target: Target, expected: set[tuple[str, str, str, str]]
) -> None:
    assert _grants(_example(example)[target]) == expected


@pytest.mark.parametrize("example", ["digits", "sensor-anomaly", "fraud-tpu"])
def test_every_grant_depends_on_its_account_and_resource(example: str) -> None:
    for graph in _example(example).values():
        for grant in _workload_grants(graph):
            account = next(a for a in graph if a.type == GSA and a.address in grant.depends_on)
            email = f"{account.inputs['accountId']}@{graph.gcp_project}.iam.gserviceaccount.com"
            assert grant.inputs["member"] == f"serviceAccount:{email}"
            kinds = {graph.resources[d].type for d in grant.depends_on}
            granted_on = {
                BUCKET_IAM_MEMBER: {BUCKET},
                DATASET_IAM_MEMBER: {DATASET},
                TABLE_IAM_MEMBER: {TABLE},
            }.get(grant.type, set())
            assert kinds == {GSA} | granted_on, grant.address


@pytest.mark.parametrize("example", ["digits", "sensor-anomaly", "fraud-tpu"])
def test_project_roles_are_bigquerys_job_and_read_session_users_and_vertex_ai_where_used(
    example: str,
) -> None:
    """Vertex AI's user role only where a target runs a section on Vertex AI or tracks experiments."""
    validation = _validated(example)
    for target, graph in compile_graphs(validation).items():
        config = validation.targets[target].config
        uses_vertex = (
            config.placement.uses_vertex or config.tracking.experiments or config.tracking.tensorboard
        )
        roles = {r.inputs["role"] for r in _workload_grants(graph) if r.type == PROJECT_IAM_MEMBER}
        assert roles - {VERTEX_USER} <= {JOBS, SESSIONS}
        assert (VERTEX_USER in roles) is uses_vertex, target


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
            "pipeline-train-object-admin-pipeline-root",
            ADMIN,
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
            "account-shared-object-admin-pipeline-root",
            ADMIN,
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
            "batch-score-object-admin-pipeline-root",
            ADMIN,
            "demo-dev-us-central1-pipeline-root",
        ),
        (BUCKET_IAM_MEMBER, "batch-score-object-user-scores", USE, "demo-dev-us-central1-scores"),
        # The input table is not one mlopsctl creates: its dataset is read.
        (DATASET_IAM_MEMBER, "batch-score-data-viewer-features", READ, "features_dev_us_central1"),
        (PROJECT_IAM_MEMBER, "batch-score-bigquery-read-session-user", SESSIONS, "acme-demo-dev"),
    }


CMEK = OWNED_STAGED_DATA + "security:\n  kms:\n    data: {}\n  defaultKmsKey: data\n"
KEY_ID = "projects/acme-demo-dev/locations/us-central1/keyRings/demo-dev/cryptoKeys/data"


@pytest.mark.parametrize(
    ("agent", "encrypted", "member"),
    [
        (
            "storage",
            (BUCKET, "raw"),
            {
                "fn::join": [
                    "",
                    [
                        "serviceAccount:",
                        {
                            "fn::invoke": {
                                "function": "gcp:storage/getProjectServiceAccount:getProjectServiceAccount",
                                "arguments": {"project": "acme-demo-dev"},
                                "return": "emailAddress",
                            }
                        },
                    ],
                ]
            },
        ),
        (
            "bigquery",
            (DATASET, "features"),
            {
                "fn::join": [
                    "",
                    [
                        "serviceAccount:",
                        {
                            "fn::invoke": {
                                "function": "gcp:bigquery/getDefaultServiceAccount:getDefaultServiceAccount",
                                "arguments": {"project": "acme-demo-dev"},
                                "return": "email",
                            }
                        },
                    ],
                ]
            },
        ),
    ],
)
def test_service_agents_may_use_the_keys_mlopsctl_creates(
    tmp_path: pathlib.Path, agent: str, encrypted: tuple[str, str], member: object
) -> None:
    graph = compile_text(tmp_path, CMEK)[DEV]
    grant = graph.resources[f"dev/us-central1/{CRYPTO_KEY_IAM_MEMBER}/{agent}-agent-data"]
    assert dict(grant.inputs) == {
        "cryptoKeyId": KEY_ID,
        "role": "roles/cloudkms.cryptoKeyEncrypterDecrypter",
        "member": member,
    }
    assert grant.depends_on == (f"dev/us-central1/{CRYPTO_KEY}/data",)
    assert grant.source == ("security", "kms", "data")
    assert grant.address in graph.resources[f"dev/us-central1/{encrypted[0]}/{encrypted[1]}"].depends_on


def test_existing_keys_are_their_owners_to_grant(tmp_path: pathlib.Path) -> None:
    existing = "projects/keys-prj/locations/us-central1/keyRings/ring/cryptoKeys/k"
    dev_only = OWNED_STAGED_DATA.replace("regions: [us-central1, europe-west4]", "regions: [us-central1]")
    text = dev_only + f"security:\n  kms:\n    data: {{key: {existing}}}\n  defaultKmsKey: data\n"
    graph = compile_text(tmp_path, text)[DEV]
    assert not [r for r in graph if r.type == CRYPTO_KEY_IAM_MEMBER]
    assert graph.resources["dev/us-central1/gcp:storage/bucket:Bucket/raw"].depends_on == ()


def test_the_artifact_registry_agent_is_named_from_the_project_number(tmp_path: pathlib.Path) -> None:
    validation = validate(ConfigSource(write(tmp_path, CMEK), "mlops.yaml", None))
    ctx = BuildContext(validation.targets[DEV].config, DEV, tmp_path)
    key_id, depends_on = kms.key_reference(ctx, None, "artifactregistry")
    grant = ctx.graph.resources[f"dev/us-central1/{CRYPTO_KEY_IAM_MEMBER}/artifactregistry-agent-data"]
    assert key_id == KEY_ID
    assert depends_on == (f"dev/us-central1/{CRYPTO_KEY}/data", grant.address)
    number = {
        "fn::invoke": {
            "function": "gcp:organizations/getProject:getProject",
            "arguments": {"projectId": "acme-demo-dev"},
            "return": "number",
        }
    }
    assert grant.inputs["member"] == {
        "fn::join": [
            "",
            ["serviceAccount:service-", number, "@gcp-sa-artifactregistry.iam.gserviceaccount.com"],
        ]
    }
    # A second use of the key by the same agent reuses the grant.
    assert kms.key_reference(ctx, "data", "artifactregistry") == (key_id, depends_on)
