"""The pull subscription of a monitor on Vertex AI that retrains pipelines on Kubeflow Pipelines dead-letters
what the cluster's receiver never acknowledges: to a topic of the monitor's own with a subscription that
keeps it, Pub/Sub's service agent allowed to publish there and to pull the monitor's subscription only."""

from __future__ import annotations

import pathlib

import pytest
from helpers import compile_text
from vertex_retrain_cases import ON_KFP, RETRAINING

from mlopsctl.compiler.provenance import LABELLED
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource, address_of, fn_output

DEV = Target("dev", "us-central1")
TOPIC = "gcp:pubsub/topic:Topic"
SUBSCRIPTION = "gcp:pubsub/subscription:Subscription"
TOPIC_GRANT = "gcp:pubsub/topicIAMMember:TopicIAMMember"
SUBSCRIPTION_GRANT = "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember"
PROJECT = "acme-demo-dev"
PUBSUB_IDENTITY = address_of(DEV, "gcp:projects/serviceIdentity:ServiceIdentity", "pubsub")
PUBSUB_AGENT = fn_output(PUBSUB_IDENTITY, "member")
"""The Pub/Sub agent, as the ServiceIdentity that makes it exist reports it."""
MONITORS = ["shift", "slow"]


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Graph:
    return compile_text(tmp_path_factory.mktemp("dead-letters"), ON_KFP)[DEV]


def _one(graph: Graph, type_: str, name: str) -> Resource:
    return graph.resources[f"{DEV}/{type_}/{name}"]


def _unstamped(resource: Resource) -> dict[str, object]:
    """The inputs without the labels (the provenance pass adds the address and commit to them)."""
    return {k: v for k, v in resource.inputs.items() if k != "labels"}


@pytest.mark.parametrize("monitor", MONITORS)
def test_each_monitor_has_a_dead_letter_topic_and_a_subscription_that_keeps_its_messages(
    graph: Graph, monitor: str
) -> None:
    key, name = f"monitor-{monitor}-retrain", f"demo-dev-usc1-monitor-{monitor}-retrain-dead-letter"
    alert_topic = _one(graph, TOPIC, key)
    topic, kept = _one(graph, TOPIC, f"{key}-dead-letter"), _one(graph, SUBSCRIPTION, f"{key}-dead-letter")
    # Built as the alert topic is: the same labels, Google's encryption (no kmsKeyName).
    assert _unstamped(topic) == {"name": name, "project": PROJECT}
    assert set(topic.inputs) == set(alert_topic.inputs)
    assert _unstamped(kept) == {
        "name": name,
        "project": PROJECT,
        "topic": f"projects/{PROJECT}/topics/{name}",
        "ackDeadlineSeconds": 60,
        "messageRetentionDuration": "604800s",
        "retainAckedMessages": True,  # a pulled and acknowledged dead letter can still be sought back
        "expirationPolicy": {"ttl": ""},  # idle is its usual state: never deleted for it
    }
    assert kept.depends_on == (topic.address,)
    for resource in (topic, kept):
        assert resource.source == ("monitors", monitor, "actions")
        assert resource.type in LABELLED
        labels = resource.inputs["labels"]
        assert (labels["mlops-monitor"], labels["mlops-name"]) == (monitor, f"{key}-dead-letter")
        assert _own(labels) == _own(alert_topic.inputs["labels"])


def _own(labels: dict[str, str]) -> dict[str, str]:
    """The labels but those naming the resource, which the provenance pass adds."""
    return {k: v for k, v in labels.items() if k not in ("mlops-name", "mlops-type")}


@pytest.mark.parametrize("monitor", MONITORS)
def test_the_monitors_subscription_dead_letters_after_ten_deliveries_with_backoff(
    graph: Graph, monitor: str
) -> None:
    key = f"monitor-{monitor}-retrain"
    subscription = _one(graph, SUBSCRIPTION, key)
    assert subscription.inputs["deadLetterPolicy"] == {
        "deadLetterTopic": f"projects/{PROJECT}/topics/demo-dev-usc1-{key}-dead-letter",
        "maxDeliveryAttempts": 10,
    }
    assert subscription.inputs["retryPolicy"] == {"minimumBackoff": "10s", "maximumBackoff": "600s"}
    # Nothing is dead-lettered before a subscription keeps it and the agent may publish it.
    assert set(subscription.depends_on) == {
        _one(graph, TOPIC, key).address,
        _one(graph, TOPIC, f"{key}-dead-letter").address,
        _one(graph, SUBSCRIPTION, f"{key}-dead-letter").address,
        _one(graph, TOPIC_GRANT, f"{key}-dead-letter-publisher").address,
    }


def test_the_pubsub_agent_may_publish_dead_letters_and_pull_the_monitors_subscriptions_only(
    graph: Graph,
) -> None:
    grants = {
        (
            r.type,
            r.name,
            r.inputs["role"],
            r.inputs.get("topic", r.inputs.get("subscription")),
            frozenset(r.depends_on),
        )
        for r in graph
        if r.inputs.get("member") == PUBSUB_AGENT
    }
    expected = set()
    for monitor in MONITORS:
        key, name = f"monitor-{monitor}-retrain", f"demo-dev-usc1-monitor-{monitor}-retrain"
        dead_topic = _one(graph, TOPIC, f"{key}-dead-letter").address
        pulled = _one(graph, SUBSCRIPTION, key).address
        publisher = (TOPIC_GRANT, f"{key}-dead-letter-publisher")
        subscriber = (SUBSCRIPTION_GRANT, f"{key}-dead-letter-subscriber")
        expected |= {
            (
                *publisher,
                "roles/pubsub.publisher",
                f"{name}-dead-letter",
                frozenset({dead_topic, PUBSUB_IDENTITY}),
            ),
            (*subscriber, "roles/pubsub.subscriber", name, frozenset({pulled, PUBSUB_IDENTITY})),
        }
        for grant in (publisher, subscriber):
            assert _one(graph, *grant).inputs["project"] == PROJECT
            assert _one(graph, *grant).source == ("monitors", monitor, "actions")
    assert grants == expected  # on those resources only: none on the project


def test_no_dead_letters_when_eventarc_takes_the_messages(tmp_path: pathlib.Path) -> None:
    """Pipelines on Vertex AI: the workflow's trigger takes the alerts, no pull subscription dead-letters."""
    graph = compile_text(tmp_path, RETRAINING)[DEV]
    assert not [r for r in graph if "dead-letter" in r.name]
    assert not [r for r in graph if r.inputs.get("member") == PUBSUB_AGENT]
