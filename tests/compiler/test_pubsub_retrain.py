"""Monitors on Vertex AI that retrain pipelines on Kubeflow Pipelines: the monitor's Pub/Sub channel gets a
pull subscription that the cluster's retrain receiver pulls, as a Google account allowed to pull that
subscription only; no Eventarc trigger, no workflow. Pipelines on Vertex AI get nothing of this."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
from helpers import compile_text
from upstream_schemas import UpstreamSchemas
from vertex_retrain_cases import ON_KFP, RETRAINING, TOPIC

from mlopsctl.compiler.alert_receiver import NAME
from mlopsctl.compiler.schedules import POLL_RULES
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource, fn_output
from mlopsctl_stage.stages.retrain_receiver import Receiver

DEV = Target("dev", "us-central1")
SUBSCRIPTION = "gcp:pubsub/subscription:Subscription"
SUBSCRIBER = "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember"
CHANNEL = "gcp:monitoring/notificationChannel:NotificationChannel"
KSA = "retrain-receiver-dev-usc1"
GSA = f"{KSA}@acme-demo-dev.iam.gserviceaccount.com"
PROJECT = "projects/acme-demo-dev"


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Graph:
    return compile_text(tmp_path_factory.mktemp("pull"), ON_KFP)[DEV]


def _one(graph: Graph, type_: str, name: str) -> Resource:
    return graph.resources[f"{DEV}/{type_}/{name}"]


def _kinds(graph: Graph, name: str) -> dict[str, Resource]:
    return {r.inputs["kind"]: r for r in graph if r.is_kubernetes and r.inputs["metadata"]["name"] == name}


def _receiver_config(graph: Graph) -> dict[str, Any]:
    [container] = _kinds(graph, NAME)["Deployment"].inputs["spec"]["template"]["spec"]["containers"]
    loaded: dict[str, Any] = json.loads(container["args"][1])
    return loaded


@pytest.mark.parametrize("monitor", ["shift", "slow"])
def test_each_retraining_monitor_gets_a_pull_subscription_on_its_topic(graph: Graph, monitor: str) -> None:
    key = f"monitor-{monitor}-retrain"
    topic = _one(graph, "gcp:pubsub/topic:Topic", key)
    subscription = _one(graph, SUBSCRIPTION, key)
    assert {k: v for k, v in subscription.inputs.items() if k != "labels"} == {
        "name": f"demo-dev-usc1-{key}",
        "project": "acme-demo-dev",
        "topic": TOPIC.replace("shift", monitor),
        "ackDeadlineSeconds": 60,
        "messageRetentionDuration": "604800s",
        "retainAckedMessages": False,
        "expirationPolicy": {"ttl": ""},  # never deleted however rarely the monitor fires
        "retryPolicy": {"minimumBackoff": "10s", "maximumBackoff": "600s"},
        "deadLetterPolicy": {
            "deadLetterTopic": f"projects/acme-demo-dev/topics/demo-dev-usc1-{key}-dead-letter",
            "maxDeliveryAttempts": 10,
        },
    }
    assert subscription.inputs["labels"]["mlops-monitor"] == monitor
    assert topic.address in subscription.depends_on
    assert subscription.source[:2] == ("monitors", monitor)
    # Cloud Monitoring still publishes through the monitor's channel.
    assert _one(graph, CHANNEL, key).inputs["labels"] == {"topic": TOPIC.replace("shift", monitor)}


def test_the_monitors_notify_the_channel_of_their_subscription(graph: Graph) -> None:
    model_monitor = _one(graph, "mlopsctl:vertex/modelMonitor:ModelMonitor", "shift")
    retrain = _one(graph, CHANNEL, "monitor-shift-retrain").address
    assert fn_output(retrain, "name") in model_monitor.inputs["notificationChannels"]
    policy = _one(graph, "gcp:monitoring/alertPolicy:AlertPolicy", "slow")
    assert (
        fn_output(_one(graph, CHANNEL, "monitor-slow-retrain").address, "name")
        in (policy.inputs["notificationChannels"])
    )
    assert SUBSCRIPTION not in {r.type for r in graph if "quiet" in r.name}


def test_no_eventarc_no_workflow_and_no_account_of_the_monitor(graph: Graph) -> None:
    types = {r.type for r in graph}
    assert not types & {"gcp:eventarc/trigger:Trigger", "gcp:workflows/workflow:Workflow"}
    assert not [
        r for r in graph if r.type == "gcp:serviceaccount/account:Account" and "mon-" in str(r.inputs)
    ]
    services = {r.inputs["service"] for r in graph.of_type("gcp:projects/service:Service")}
    assert {"pubsub.googleapis.com", "monitoring.googleapis.com"} <= services
    assert not services & {"eventarc.googleapis.com", "workflows.googleapis.com"}


def test_the_receiver_maps_each_subscription_to_its_monitors_runs(graph: Graph) -> None:
    config = _receiver_config(graph)
    assert config["subscriptions"] == {
        f"{PROJECT}/subscriptions/demo-dev-usc1-monitor-shift-retrain": "shift",
        f"{PROJECT}/subscriptions/demo-dev-usc1-monitor-slow-retrain": "slow",
    }
    receiver = Receiver.from_config(config)  # what the stage checks at startup
    assert set(receiver.retrain) == {("shift", "train"), ("slow", "train")}
    shift, slow = config["retrain"]["shift"]["train"], config["retrain"]["slow"]["train"]
    assert shift["endpoint"] == "ml-pipeline.kubeflow.svc.cluster.local:8888"
    assert (shift["namespace"], shift["pipeline"], shift["serviceAccount"]) == (
        "demo",
        "train",
        "pipeline-train-dev-usc1",
    )
    assert shift["parameters"] == {"lr": 0.9, "epochs": 3}  # the drift monitor's retrainParameters
    assert slow["parameters"] == {"lr": 0.1, "epochs": 3}
    version = _one(
        graph, "kubernetes:pipelines.kubeflow.org/v2beta1:PipelineVersion", shift["pipelineVersion"]
    )
    assert version.address in _kinds(graph, NAME)["Deployment"].depends_on


def test_the_receiver_pulls_as_a_google_account_allowed_only_its_subscriptions(
    graph: Graph, upstream_schemas: UpstreamSchemas
) -> None:
    objects = _kinds(graph, NAME)
    # Nothing reaches it from outside: no Service, no route from an Alertmanager, no plain text port,
    # and a NetworkPolicy that admits nothing.
    assert set(objects) == {"Deployment", "NetworkPolicy"}
    assert not [r for r in graph if r.is_kubernetes and r.inputs["kind"] in ("AlertmanagerConfig", "Secret")]
    assert upstream_schemas.validate(dict(objects["Deployment"].inputs)) == []
    account = _kinds(graph, KSA)["ServiceAccount"]
    assert account.inputs["metadata"]["annotations"]["iam.gke.io/gcp-service-account"] == GSA
    grants = {
        (r.type, r.inputs["role"], r.inputs.get("subscription", r.inputs.get("serviceAccountId")))
        for r in graph
        if r.type.startswith("gcp:") and r.inputs.get("member") == f"serviceAccount:{GSA}"
    }
    assert grants == {
        (SUBSCRIBER, "roles/pubsub.subscriber", "demo-dev-usc1-monitor-shift-retrain"),
        (SUBSCRIBER, "roles/pubsub.subscriber", "demo-dev-usc1-monitor-slow-retrain"),
    }
    binding = _one(graph, "gcp:serviceaccount/iAMMember:IAMMember", f"{NAME}-workload-identity").inputs
    assert binding == {
        "serviceAccountId": f"{PROJECT}/serviceAccounts/{GSA}",
        "role": "roles/iam.workloadIdentityUser",
        "member": f"serviceAccount:acme-demo-dev.svc.id.goog[demo/{KSA}]",
    }
    grant = _one(graph, SUBSCRIBER, f"{NAME}-pubsub-subscriber-shift")
    assert set(grant.depends_on) == {
        _one(graph, SUBSCRIPTION, "monitor-shift-retrain").address,
        _one(graph, "gcp:serviceaccount/account:Account", NAME).address,
    }
    assert grant.address in objects["Deployment"].depends_on


def test_the_receiver_starts_kfp_runs_with_its_token_and_run_rights(graph: Graph) -> None:
    pod = _kinds(graph, NAME)["Deployment"].inputs["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == KSA
    assert pod["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"]["audience"] == (
        "pipelines.kubeflow.org"
    )
    [binding] = [
        r.inputs
        for r in graph
        if r.is_kubernetes and r.inputs["kind"] == "RoleBinding" and r.inputs["subjects"][0]["name"] == KSA
    ]
    assert _kinds(graph, binding["roleRef"]["name"])["Role"].inputs["rules"] == POLL_RULES


def test_nothing_of_this_when_pipelines_are_on_vertex_ai(tmp_path: pathlib.Path) -> None:
    graph = compile_text(tmp_path, RETRAINING)[DEV]
    types = {r.type for r in graph}
    assert not types & {SUBSCRIPTION, SUBSCRIBER}
    assert _kinds(graph, NAME) == {}
    assert "gcp:workflows/workflow:Workflow" in types  # the managed chain instead
