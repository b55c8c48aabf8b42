"""The Pulumi program registers the pull subscription of a monitor on Vertex AI that retrains pipelines on
Kubeflow Pipelines, and the retrain receiver's grant on it, with the real pulumi-gcp classes (under
mocks); the grants to the Pub/Sub and Cloud Monitoring notification agents take the email that the
ServiceIdentity of each service reports, and are registered after it."""

from __future__ import annotations

import pathlib
import sys

import pytest
from helpers import compile_text

from mlopsctl.config.target import Target
from mlopsctl.pulumi.program import create

sys.path.append(str(pathlib.Path(__file__).resolve().parents[1]))  # tests/pulumi: the shared Pulumi mocks
sys.path.append(str(pathlib.Path(__file__).resolve().parents[2] / "compiler"))
from mocked import PROJECT_NUMBER, Recorder, run  # type: ignore[import-not-found]
from vertex_retrain_cases import ON_KFP, TOPIC

DEV = Target("dev", "us-central1")
KEY = "monitor-shift-retrain"
IDENTITY = "gcp:projects/serviceIdentity:ServiceIdentity"
AGENTS = {
    f"{service}.googleapis.com": f"service-{PROJECT_NUMBER}@gcp-sa-{agent}.iam.gserviceaccount.com"
    for service, agent in (("monitoring", "monitoring-notification"), ("pubsub", "pubsub"))
}
"""The agent that Service Usage's generateServiceIdentity reports for each service: Cloud Monitoring's is
its notification agent."""


@pytest.fixture(scope="module")
def recorder(tmp_path_factory: pytest.TempPathFactory) -> Recorder:
    graph = compile_text(tmp_path_factory.mktemp("pull"), ON_KFP)[DEV]
    recorder = Recorder()  # the cluster's outputs are the mocks' own
    run(lambda: create(graph), recorder, stack="dev-us-central1")
    return recorder


def test_the_subscription_and_the_receivers_grant_are_pulumi_gcps(recorder: Recorder) -> None:
    topic = recorder.one("gcp:pubsub/topic:Topic", KEY)
    subscription = recorder.one("gcp:pubsub/subscription:Subscription", KEY)
    assert subscription.inputs["topic"] == TOPIC
    assert subscription.inputs["expirationPolicy"] == {"ttl": ""}
    assert subscription.inputs["retryPolicy"] == {"minimumBackoff": "10s", "maximumBackoff": "600s"}
    assert (subscription.inputs["ackDeadlineSeconds"], subscription.inputs["messageRetentionDuration"]) == (
        60,
        "604800s",
    )
    assert topic.urn in subscription.dependencies
    grant = recorder.one(
        "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember", "retrain-receiver-pubsub-subscriber-shift"
    )
    assert grant.inputs == {
        "project": "acme-demo-dev",
        "subscription": "demo-dev-usc1-monitor-shift-retrain",
        "role": "roles/pubsub.subscriber",
        "member": "serviceAccount:retrain-receiver-dev-usc1@acme-demo-dev.iam.gserviceaccount.com",
    }
    assert subscription.urn in grant.dependencies
    assert not [r for r in recorder.resources if r.type.startswith(("gcp:eventarc/", "gcp:workflows/"))]


@pytest.mark.parametrize(
    ("type_", "name", "service"),
    [
        (
            "gcp:pubsub/topicIAMMember:TopicIAMMember",
            "monitor-shift-retrain-publisher",
            "monitoring.googleapis.com",
        ),
        (
            "gcp:pubsub/topicIAMMember:TopicIAMMember",
            "monitor-shift-retrain-dead-letter-publisher",
            "pubsub.googleapis.com",
        ),
        (
            "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember",
            "monitor-shift-retrain-dead-letter-subscriber",
            "pubsub.googleapis.com",
        ),
    ],
)
def test_the_agents_grant_waits_for_the_service_identity_and_takes_its_member(
    recorder: Recorder, type_: str, name: str, service: str
) -> None:
    [identity] = [r for r in recorder.by_type(IDENTITY) if r.inputs["service"] == service]
    grant = recorder.one(type_, name)
    assert grant.inputs["member"] == f"serviceAccount:{AGENTS[service]}"
    assert identity.urn in grant.dependencies
