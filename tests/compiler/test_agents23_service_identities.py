"""Grants to a Google service agent take the agent from its ServiceIdentity, which makes it exist first:
IAM refuses a grant to an account that does not exist, and a project may have no Pub/Sub or Cloud
Monitoring notification agent until the service first needs one. None is named from the project number."""

from __future__ import annotations

import json

import pytest
from helpers import compile_text
from vertex_retrain_cases import ON_KFP

from mlopsctl.compiler.apis import SERVICE, SERVICE_IDENTITY
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, address_of, fn_output

DEV = Target("dev", "us-central1")
PROJECT = "acme-demo-dev"
TOPIC_GRANT = "gcp:pubsub/topicIAMMember:TopicIAMMember"
SUBSCRIPTION_GRANT = "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember"
MONITORS = ("shift", "slow")


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Graph:
    """Monitors on Vertex AI that retrain pipelines on Kubeflow Pipelines: each has an alert topic that
    Cloud Monitoring publishes to, and dead letters that Pub/Sub forwards."""
    return compile_text(tmp_path_factory.mktemp("agents"), ON_KFP)[DEV]


def _identity(graph: Graph, name: str, service: str) -> str:
    """The address of the ServiceIdentity ``name``, checked to make ``service``'s agent once its API is on."""
    address = address_of(DEV, SERVICE_IDENTITY, name)
    identity = graph.resources[address]
    assert dict(identity.inputs) == {"project": PROJECT, "service": service}
    assert identity.depends_on == (address_of(DEV, SERVICE, name),)
    assert address_of(DEV, SERVICE, name) in graph.resources
    return address


def test_no_grant_names_a_service_agent_from_the_project_number(graph: Graph) -> None:
    named = [r.address for r in graph if "@gcp-sa-" in json.dumps(dict(r.inputs))]
    assert named == []


@pytest.mark.parametrize("monitor", MONITORS)
def test_the_pubsub_agent_is_granted_once_its_service_identity_made_it(graph: Graph, monitor: str) -> None:
    identity = _identity(graph, "pubsub", "pubsub.googleapis.com")
    key = f"monitor-{monitor}-retrain-dead-letter"
    for type_, suffix in ((TOPIC_GRANT, "publisher"), (SUBSCRIPTION_GRANT, "subscriber")):
        grant = graph.resources[address_of(DEV, type_, f"{key}-{suffix}")]
        assert grant.inputs["member"] == fn_output(identity, "member")
        assert identity in grant.depends_on


@pytest.mark.parametrize("monitor", MONITORS)
def test_the_monitoring_notification_agent_publishes_once_its_service_identity_made_it(
    graph: Graph, monitor: str
) -> None:
    # Service Usage answers monitoring.googleapis.com with the notification agent,
    # service-NUMBER@gcp-sa-monitoring-notification.iam.gserviceaccount.com.
    identity = _identity(graph, "monitoring", "monitoring.googleapis.com")
    publisher = graph.resources[address_of(DEV, TOPIC_GRANT, f"monitor-{monitor}-retrain-publisher")]
    assert publisher.inputs["member"] == fn_output(identity, "member")
    assert identity in publisher.depends_on
    assert publisher.inputs["role"] == "roles/pubsub.publisher"
