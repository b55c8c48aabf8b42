"""The Pulumi program registers a retraining monitor's dead letters with the real pulumi-gcp classes (under
mocks): the monitor's subscription with its dead-letter and retry policies, the dead-letter topic and the
subscription that keeps its messages, and the Pub/Sub service agent's grants on those two resources."""

from __future__ import annotations

import pathlib
import sys

import pytest
from helpers import compile_text
from vertex_retrain_cases import ON_KFP, TOPIC

from mlopsctl.config.target import Target
from mlopsctl.pulumi.program import create

sys.path.append(str(pathlib.Path(__file__).resolve().parents[1] / "pulumi"))  # the shared Pulumi mocks
from mocked import PROJECT_NUMBER, Recorder, run  # type: ignore[import-not-found, unused-ignore]

DEV = Target("dev", "us-central1")
KEY = "monitor-shift-retrain"
NAME = "demo-dev-usc1-monitor-shift-retrain"
DEAD = f"{NAME}-dead-letter"
GRANTS = ("publisher", "subscriber")
"""What the Pub/Sub service agent is granted, by the suffix of the grant's name."""
AGENT = f"serviceAccount:service-{PROJECT_NUMBER}@gcp-sa-pubsub.iam.gserviceaccount.com"


@pytest.fixture(scope="module")
def recorder(tmp_path_factory: pytest.TempPathFactory) -> Recorder:
    graph = compile_text(tmp_path_factory.mktemp("dead-letters"), ON_KFP)[DEV]
    recorder = Recorder()
    run(lambda: create(graph), recorder, stack="dev-us-central1")
    return recorder


def test_the_subscription_dead_letters_to_a_topic_whose_subscription_keeps_them(recorder: Recorder) -> None:
    subscription = recorder.one("gcp:pubsub/subscription:Subscription", KEY)
    assert subscription.inputs["topic"] == TOPIC
    assert subscription.inputs["deadLetterPolicy"] == {
        "deadLetterTopic": f"projects/acme-demo-dev/topics/{DEAD}",
        "maxDeliveryAttempts": 10,
    }
    assert subscription.inputs["retryPolicy"] == {"minimumBackoff": "10s", "maximumBackoff": "600s"}
    topic = recorder.one("gcp:pubsub/topic:Topic", f"{KEY}-dead-letter")
    kept = recorder.one("gcp:pubsub/subscription:Subscription", f"{KEY}-dead-letter")
    assert (topic.inputs["name"], topic.inputs["labels"]["mlops-monitor"]) == (DEAD, "shift")
    assert "kmsKeyName" not in topic.inputs  # as the alert topic: Google's encryption
    assert {k: kept.inputs[k] for k in ("name", "topic", "messageRetentionDuration", "expirationPolicy")} == {
        "name": DEAD,
        "topic": f"projects/acme-demo-dev/topics/{DEAD}",
        "messageRetentionDuration": "604800s",
        "expirationPolicy": {"ttl": ""},
    }
    assert (kept.inputs["retainAckedMessages"], kept.inputs["labels"]["mlops-monitor"]) == (True, "shift")
    assert topic.urn in kept.dependencies
    assert {topic.urn, kept.urn} <= subscription.dependencies


def test_the_pubsub_agent_is_granted_on_the_dead_letter_topic_and_the_subscription_only(
    recorder: Recorder,
) -> None:
    publisher = recorder.one("gcp:pubsub/topicIAMMember:TopicIAMMember", f"{KEY}-dead-letter-publisher")
    assert publisher.inputs == {
        "project": "acme-demo-dev",
        "topic": DEAD,
        "role": "roles/pubsub.publisher",
        "member": AGENT,
    }
    subscriber = recorder.one(
        "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember", f"{KEY}-dead-letter-subscriber"
    )
    assert subscriber.inputs == {
        "project": "acme-demo-dev",
        "subscription": NAME,
        "role": "roles/pubsub.subscriber",
        "member": AGENT,
    }
    assert recorder.one("gcp:pubsub/topic:Topic", f"{KEY}-dead-letter").urn in publisher.dependencies
    assert recorder.one("gcp:pubsub/subscription:Subscription", KEY).urn in subscriber.dependencies
    assert publisher.urn in recorder.one("gcp:pubsub/subscription:Subscription", KEY).dependencies
    granted = {r.name for r in recorder.resources if r.inputs.get("member") == AGENT}
    assert granted == {f"monitor-{m}-retrain-dead-letter-{g}" for m in ("shift", "slow") for g in GRANTS}
