"""Monitors on Vertex AI that retrain: alert → Pub/Sub channel → Eventarc → a workflow that creates the
PipelineJob the pipeline's schedule creates, unless a run of that pipeline is not over yet."""

from __future__ import annotations

import base64
import json
import pathlib
from typing import Any

import pytest
import yaml
from helpers import compile_text
from vertex_retrain_cases import (
    ACCOUNT,
    JOBS,
    ON_VERTEX,
    PIPELINE_ACCOUNT,
    RETRAINING,
    TOPIC,
    WORKFLOW,
)

from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, address_of, fn_output
from mlopsctl.plan.resource_types import REPLACE_ON

DEV = Target("dev", "us-central1")
CHANNEL = "gcp:monitoring/notificationChannel:NotificationChannel"
NEW_TYPES = (
    "gcp:pubsub/topic:Topic",
    "gcp:pubsub/topicIAMMember:TopicIAMMember",
    "gcp:eventarc/trigger:Trigger",
    "gcp:workflows/workflow:Workflow",
)
LABELS = {
    "managed-by": "mlopsctl",
    "mlops-env": "dev",
    "mlops-project": "demo",
    "mlops-region": "us-central1",
}


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Graph:
    graphs: dict[Target, Graph] = compile_text(tmp_path_factory.mktemp("retrain"), RETRAINING)
    return graphs[DEV]


def _one(graph: Graph, type_: str, name: str) -> Any:
    return graph.resources[f"{DEV}/{type_}/{name}"]


def _address(type_: str, name: str) -> str:
    return f"{DEV}/{type_}/{name}"


def _source(graph: Graph, monitor: str) -> Any:
    return yaml.safe_load(_one(graph, NEW_TYPES[3], f"monitor-{monitor}-retrain").inputs["sourceContents"])


def _schedule_body(graph: Graph) -> Any:
    target = _one(graph, "gcp:cloudscheduler/job:Job", "train-schedule").inputs["httpTarget"]
    return json.loads(base64.b64decode(target["body"]))


def test_an_alert_reaches_the_workflow_through_a_pubsub_channel_and_eventarc(graph: Graph) -> None:
    key = "monitor-shift-retrain"
    topic = _one(graph, NEW_TYPES[0], key)
    assert (topic.inputs["name"], topic.inputs["project"]) == (
        "demo-dev-usc1-monitor-shift-retrain",
        "acme-demo-dev",
    )
    assert topic.inputs["labels"].items() >= {**LABELS, "mlops-monitor": "shift"}.items()
    channel = _one(graph, CHANNEL, key)
    assert (channel.inputs["type"], channel.inputs["labels"]) == ("pubsub", {"topic": TOPIC})
    assert set(channel.depends_on) == {topic.address, _address(NEW_TYPES[1], f"{key}-publisher")}
    trigger = _one(graph, NEW_TYPES[2], key)
    assert {k: v for k, v in trigger.inputs.items() if k != "labels"} == {
        "name": "demo-dev-usc1-monitor-shift-retrain",
        "project": "acme-demo-dev",
        "location": "us-central1",
        "matchingCriterias": [
            {"attribute": "type", "value": "google.cloud.pubsub.topic.v1.messagePublished"}
        ],
        "transport": {"pubsub": {"topic": TOPIC}},
        "destination": {"workflow": WORKFLOW},
        "serviceAccount": ACCOUNT,
    }
    workflow = _one(graph, NEW_TYPES[3], key)
    assert {
        k: v for k, v in workflow.inputs.items() if k not in ("sourceContents", "labels", "description")
    } == {
        "name": "demo-dev-usc1-monitor-shift-retrain",
        "project": "acme-demo-dev",
        "region": "us-central1",
        "serviceAccount": ACCOUNT,
        "deletionProtection": False,
    }
    assert workflow.address in trigger.depends_on and topic.address in trigger.depends_on


def test_the_workflow_creates_the_schedules_pipeline_job_with_the_monitors_parameters(graph: Graph) -> None:
    (start,) = [s["start_0"] for s in _source(graph, "shift")["main"]["steps"] if "start_0" in s]
    expected = _schedule_body(graph)
    expected["runtimeConfig"]["parameterValues"] = {"lr": 0.9, "epochs": 3}
    assert start["call"] == "start_once"
    assert start["args"]["job"] == expected


def test_an_slo_monitor_starts_exactly_the_schedules_body(graph: Graph) -> None:
    (start,) = [s["start_0"] for s in _source(graph, "slow")["main"]["steps"] if "start_0" in s]
    assert start["args"]["job"] == _schedule_body(graph)


def test_the_workflow_starts_nothing_while_a_run_of_the_pipeline_is_not_over(graph: Graph) -> None:
    source = _source(graph, "shift")
    steps = source["main"]["steps"]
    (start,) = [s["start_0"] for s in steps if "start_0" in s]
    assert start["args"]["filter"] == (
        'labels.managed-by="mlopsctl" AND labels.mlops-env="dev" AND labels.mlops-pipeline="train" AND '
        'labels.mlops-project="demo" AND labels.mlops-region="us-central1" AND '
        '(state="PIPELINE_STATE_QUEUED" OR state="PIPELINE_STATE_PENDING" OR state="PIPELINE_STATE_RUNNING")'
    )
    first, look, busy, more, again, create, started = source["start_once"]["steps"]
    assert first == {"first": {"assign": [{"token": ""}]}}
    query = {"filter": "${filter}", "pageSize": 1, "pageToken": "${token}"}
    assert look["look"] == {
        "call": "http.get",
        "args": {"url": JOBS, "auth": {"type": "OAuth2"}, "query": query},
        "result": "active",
    }
    assert busy["busy"]["switch"] == [
        {"condition": '${"pipelineJobs" in active.body}', "return": "already running"}
    ]
    assert more == {"more": {"assign": [{"token": '${map.get(active.body, "nextPageToken")}'}]}}
    assert again["again"]["switch"] == [{"condition": '${token != null and token != ""}', "next": "look"}]
    assert create["start"] == {
        "call": "http.post",
        "args": {"url": JOBS, "auth": {"type": "OAuth2"}, "body": "${job}"},
        "result": "started",
    }
    assert started == {"started": {"return": "${started.body.name}"}}
    assert steps[1]["closed"]["switch"] == [
        {"condition": '${state == "closed"}', "return": "incident closed"}
    ]
    assert steps[-1] == {"done": {"return": {"train": "${run_0}"}}}


def test_the_only_expressions_of_the_source_are_the_workflows_own(graph: Graph) -> None:
    """Workflows evaluates a ``${...}`` string: the inlined spec must hold none."""
    job = json.dumps(_schedule_body(graph))
    assert "${" not in job


def test_the_grants_are_exactly_what_the_chain_needs(graph: Graph) -> None:
    member = f"serviceAccount:{ACCOUNT}"
    granted = {
        (r.type.split(":")[1], r.inputs["role"], r.inputs.get("project") or r.inputs.get("serviceAccountId"))
        for r in graph
        if r.inputs.get("member") == member
    }
    assert granted == {
        ("projects/iAMMember", "roles/aiplatform.user", "acme-demo-dev"),
        ("projects/iAMMember", "roles/eventarc.eventReceiver", "acme-demo-dev"),
        ("projects/iAMMember", "roles/workflows.invoker", "acme-demo-dev"),
        (
            "serviceaccount/iAMMember",
            "roles/iam.serviceAccountUser",
            f"projects/acme-demo-dev/serviceAccounts/{PIPELINE_ACCOUNT}",
        ),
    }
    publisher = _one(graph, NEW_TYPES[1], "monitor-shift-retrain-publisher")
    assert (publisher.inputs["topic"], publisher.inputs["role"]) == (
        "demo-dev-usc1-monitor-shift-retrain",
        "roles/pubsub.publisher",
    )
    # The Cloud Monitoring notification agent, which the ServiceIdentity of monitoring.googleapis.com makes.
    monitoring = address_of(DEV, "gcp:projects/serviceIdentity:ServiceIdentity", "monitoring")
    assert graph.resources[monitoring].inputs["service"] == "monitoring.googleapis.com"
    assert publisher.inputs["member"] == fn_output(monitoring, "member")
    assert monitoring in publisher.depends_on
    assert [r.inputs["member"] for r in graph.of_type(NEW_TYPES[1])] == [
        publisher.inputs["member"],
        _one(graph, NEW_TYPES[1], "monitor-slow-retrain-publisher").inputs["member"],
    ]


def test_the_monitors_notify_the_retraining_channel_besides_their_own(graph: Graph) -> None:
    team = _address(CHANNEL, "team")
    monitor = _one(graph, "mlopsctl:vertex/modelMonitor:ModelMonitor", "shift")
    retrain = _address(CHANNEL, "monitor-shift-retrain")
    assert monitor.inputs["notificationChannels"] == [fn_output(team, "name"), fn_output(retrain, "name")]
    assert {team, retrain} <= set(monitor.depends_on)
    policy = _one(graph, "gcp:monitoring/alertPolicy:AlertPolicy", "slow")
    retrain = _address(CHANNEL, "monitor-slow-retrain")
    assert policy.inputs["notificationChannels"] == [fn_output(team, "name"), fn_output(retrain, "name")]
    assert retrain in policy.depends_on
    quiet = _one(graph, "gcp:monitoring/alertPolicy:AlertPolicy", "quiet")
    assert quiet.inputs["notificationChannels"] == []
    assert _address(NEW_TYPES[0], "monitor-quiet-retrain") not in graph.resources


def test_the_apis_and_the_replacement_rules_of_the_chain(graph: Graph) -> None:
    services = {r.inputs["service"] for r in graph.of_type("gcp:projects/service:Service")}
    assert {
        "eventarc.googleapis.com",
        "pubsub.googleapis.com",
        "workflows.googleapis.com",
        "workflowexecutions.googleapis.com",
    } <= services
    assert all(token in REPLACE_ON for token in NEW_TYPES)


def test_monitors_on_gke_get_no_chain(tmp_path: pathlib.Path) -> None:
    placement = "placement: {endpoints: gke, monitors: gke, pipelines: vertex}\n"
    text = RETRAINING.replace(ON_VERTEX, placement).replace(
        "      - monitor: slow\n", "      - monitor: shift\n"
    )
    graph = compile_text(tmp_path, text)[DEV]
    assert not [r for r in graph if r.type in NEW_TYPES]


def test_the_regions_of_one_project_get_topics_of_their_own(tmp_path: pathlib.Path) -> None:
    graphs = compile_text(tmp_path, RETRAINING)
    names = [
        r.inputs["name"]
        for target, g in graphs.items()
        if target.env == "prod"
        for r in g.of_type(NEW_TYPES[0])
    ]
    assert sorted(names) == [
        "demo-prod-euw4-monitor-shift-retrain",
        "demo-prod-euw4-monitor-slow-retrain",
        "demo-prod-usc1-monitor-shift-retrain",
        "demo-prod-usc1-monitor-slow-retrain",
    ]
