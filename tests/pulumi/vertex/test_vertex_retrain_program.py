"""The Pulumi program registers a retraining monitor's chain with the real pulumi-gcp classes (under
mocks): the topic, its publisher, the Pub/Sub channel, the workflow and the Eventarc trigger."""

from __future__ import annotations

import pathlib
import sys

import pytest
import yaml
from helpers import compile_text

from mlopsctl.config.target import Target
from mlopsctl.graph import Graph
from mlopsctl.pulumi.program import create

sys.path.append(str(pathlib.Path(__file__).resolve().parents[1]))  # tests/pulumi: the shared Pulumi mocks
sys.path.append(str(pathlib.Path(__file__).resolve().parents[2] / "compiler"))
from mocked import PROJECT_NUMBER, Recorder, run  # type: ignore[import-not-found]
from vertex_retrain_cases import ACCOUNT, RETRAINING, TOPIC, WORKFLOW

DEV = Target("dev", "us-central1")
KEY = "monitor-shift-retrain"
AGENT = f"service-{PROJECT_NUMBER}@gcp-sa-monitoring-notification.iam.gserviceaccount.com"
CHANNEL_NAME = "projects/acme-demo-dev/notificationChannels/7"


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> tuple[Graph, Recorder]:
    graph = compile_text(tmp_path_factory.mktemp("retrain"), RETRAINING)[DEV]
    recorder = Recorder(
        outputs={"gcp:monitoring/notificationChannel:NotificationChannel": {"name": CHANNEL_NAME}}
    )
    run(lambda: create(graph), recorder, stack="dev-us-central1")
    return graph, recorder


def test_the_topic_and_its_only_publisher_the_monitoring_agent(program: tuple[Graph, Recorder]) -> None:
    _, recorder = program
    topic = recorder.one("gcp:pubsub/topic:Topic", KEY)
    assert (topic.inputs["name"], topic.inputs["project"]) == (
        "demo-dev-usc1-monitor-shift-retrain",
        "acme-demo-dev",
    )
    publisher = recorder.one("gcp:pubsub/topicIAMMember:TopicIAMMember", f"{KEY}-publisher")
    assert publisher.inputs == {
        "project": "acme-demo-dev",
        "topic": "demo-dev-usc1-monitor-shift-retrain",
        "role": "roles/pubsub.publisher",
        "member": f"serviceAccount:{AGENT}",
    }
    assert topic.urn in publisher.dependencies


def test_the_channel_workflow_and_trigger_are_pulumi_gcps(program: tuple[Graph, Recorder]) -> None:
    _, recorder = program
    channel = recorder.one("gcp:monitoring/notificationChannel:NotificationChannel", KEY)
    assert (channel.inputs["type"], channel.inputs["labels"]) == ("pubsub", {"topic": TOPIC})
    workflow = recorder.one("gcp:workflows/workflow:Workflow", KEY)
    assert workflow.inputs["serviceAccount"] == ACCOUNT
    assert workflow.inputs["deletionProtection"] is False
    source = yaml.safe_load(workflow.inputs["sourceContents"])
    assert set(source) == {"main", "start_once"}
    trigger = recorder.one("gcp:eventarc/trigger:Trigger", KEY)
    assert trigger.inputs["destination"] == {"workflow": WORKFLOW}
    assert trigger.inputs["transport"] == {"pubsub": {"topic": TOPIC}}
    assert trigger.inputs["matchingCriterias"] == [
        {"attribute": "type", "value": "google.cloud.pubsub.topic.v1.messagePublished"}
    ]
    assert workflow.urn in trigger.dependencies
    monitor = next(r for r in recorder.resources if r.type.endswith(":ModelMonitor") and r.name == "shift")
    assert CHANNEL_NAME in monitor.inputs["notificationChannels"]
    policy = recorder.one("gcp:monitoring/alertPolicy:AlertPolicy", "slow")
    assert policy.inputs["notificationChannels"] == [CHANNEL_NAME, CHANNEL_NAME]
