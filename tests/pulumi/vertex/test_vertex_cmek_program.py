"""With security.defaultKmsKey, what Vertex AI stores for an environment (endpoints, uploaded model
versions, the TensorBoard and the metadata store) and the Pub/Sub topics of retraining alerts are
encrypted with it, each after its service agent may use the key (under mocks, real pulumi-gcp classes)."""

from __future__ import annotations

import pathlib
import sys

import pytest
from helpers import OWNED, compile_text
from test_vertex_serving_program import CHANNEL, CONFIG, VERSION, VERSION_NAME

from mlopsctl.config.target import Target
from mlopsctl.pulumi.program import create
from mlopsctl.pulumi.vertex.resources import PULUMI_TYPES

sys.path.append(str(pathlib.Path(__file__).resolve().parents[1]))  # tests/pulumi: the shared Pulumi mocks
from mocked import SERVER_OUTPUTS, Recorder, Registration, run  # type: ignore[import-not-found]

DEV = Target("dev", "us-central1")
KEY = "projects/acme-demo-dev/locations/us-central1/keyRings/demo-dev/cryptoKeys/vertex"
GRANT = "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"
EXTRA = """\
security:
  kms:
    vertex: {}
  defaultKmsKey: vertex
tracking: {experiments: true, tensorboard: true}
pipelines:
  retrain:
    steps:
      ingest: {kind: ingest, source: {bigquery: {dataset: logs, table: train}}, outputs: {examples: dataset}}
"""


@pytest.fixture(scope="module", params=["vertex", "gke"])
def recorder(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Recorder:
    """Pipelines on Vertex AI, or on GKE (whose retraining adds a subscription with a dead-letter topic)."""
    config = CONFIG.replace(
        "actions: {notify: [team]}\n  slow", "actions: {notify: [team], retrain: retrain}\n  slow"
    ).replace("pipelines: vertex}", f"pipelines: {request.param}}}")
    graph = compile_text(tmp_path_factory.mktemp("cmek"), OWNED + config + EXTRA)[DEV]
    found = Recorder(
        outputs={
            **SERVER_OUTPUTS,
            PULUMI_TYPES[VERSION]: {"name": VERSION_NAME},
            "gcp:monitoring/notificationChannel:NotificationChannel": {"name": CHANNEL},
        }
    )
    run(lambda: create(graph), found, stack="dev-us-central1")
    return found


def _grant(recorder: Recorder, agent: str) -> Registration:
    grant = recorder.one(GRANT, f"{agent}-agent-vertex")
    assert grant.inputs["cryptoKeyId"] == KEY
    assert grant.inputs["role"] == "roles/cloudkms.cryptoKeyEncrypterDecrypter"
    assert (
        grant.inputs["member"]
        == f"serviceAccount:service-123456789012@gcp-sa-{agent}.iam.gserviceaccount.com"
    )
    return grant


@pytest.mark.parametrize(
    ("token", "name"),
    [
        ("gcp:vertex/aiEndpoint:AiEndpoint", "api"),
        ("gcp:vertex/aiTensorboard:AiTensorboard", "demo"),
        ("gcp:vertex/aiMetadataStore:AiMetadataStore", "default"),
    ],
)
def test_vertex_ai_resources_are_encrypted_once_its_agent_may_use_the_key(
    recorder: Recorder, token: str, name: str
) -> None:
    resource = recorder.one(token, name)
    assert resource.inputs["encryptionSpec"] == {"kmsKeyName": KEY}
    assert _grant(recorder, "aiplatform").urn in resource.dependencies


def test_uploaded_model_versions_name_the_key(recorder: Recorder) -> None:
    version = recorder.one(PULUMI_TYPES[VERSION], "clf@v1")
    assert version.inputs["kmsKeyName"] == KEY
    assert _grant(recorder, "aiplatform").urn in version.dependencies


def test_retraining_topics_are_encrypted_once_pub_sub_may_use_the_key(recorder: Recorder) -> None:
    topics = recorder.by_type("gcp:pubsub/topic:Topic")
    assert "monitor-shift-retrain" in {t.name for t in topics}
    grant = _grant(recorder, "pubsub")
    for topic in topics:
        assert topic.inputs["kmsKeyName"] == KEY, topic.name
        assert grant.urn in topic.dependencies, topic.name


def test_the_tensorboard_is_protected_like_the_metadata_store(recorder: Recorder) -> None:
    """Replacing it (a new key, say) would lose every run's logged scalars: that needs --allow-destroy."""
    assert recorder.one("gcp:vertex/aiTensorboard:AiTensorboard", "demo").protect
    assert recorder.one("gcp:vertex/aiMetadataStore:AiMetadataStore", "default").protect


def test_model_monitors_name_the_key(recorder: Recorder) -> None:
    monitor = recorder.one(PULUMI_TYPES["mlopsctl:vertex/modelMonitor:ModelMonitor"], "shift")
    assert monitor.inputs["kmsKeyName"] == KEY
    assert _grant(recorder, "aiplatform").urn in monitor.dependencies
