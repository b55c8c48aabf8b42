"""The examples grant each workload exactly what its references need, and nothing else."""

from __future__ import annotations

import pytest
from iam_cases import (
    DEV,
    EDIT,
    JOBS,
    READ,
    SESSIONS,
    USE,
    VERTEX_USER,
    VIEW,
    _example,
    _grants,
    _validated,
    _workload_grants,
)

from mlopsctl.api import compile_graphs
from mlopsctl.compiler.bigquery import DATASET, TABLE
from mlopsctl.compiler.iam import BUCKET_IAM_MEMBER, DATASET_IAM_MEMBER, PROJECT_IAM_MEMBER, TABLE_IAM_MEMBER
from mlopsctl.compiler.identity import GSA
from mlopsctl.compiler.storage import BUCKET
from mlopsctl.compiler.vertex_tracking import METADATA_STORE_TYPE
from mlopsctl.config.target import Target

EXAMPLE_GRANTS = [
    (
        "digits",
        DEV,
        {
            (
                BUCKET_IAM_MEMBER,
                "pipeline-train-object-user-pipeline-root",
                USE,
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
                    f"{who}-object-user-pipeline-root",
                    USE,
                    "sensors-dev-europe-west1-pipeline-root",
                )
                for who in ("pipeline-anomaly", "pipeline-sensor-profile", "batch-daily-scores")
            ],
            # sensor-profile ingests the feature view sensor-latest: its group's source table.
            (
                TABLE_IAM_MEMBER,
                "pipeline-sensor-profile-data-viewer-features-sensor_features",
                READ,
                "sensor_features",
            ),
            (
                PROJECT_IAM_MEMBER,
                "pipeline-sensor-profile-bigquery-read-session-user",
                SESSIONS,
                "acme-sensors-dev",
            ),
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
                "pipeline-train-object-user-pipeline-root",
                USE,
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
            if grant.inputs["role"] == "roles/aiplatform.user":  # no run may record before the store exists
                granted_on = {METADATA_STORE_TYPE} & {r.type for r in graph}
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
