"""``retrain-receiver`` pulling Pub/Sub: the real server on 127.0.0.1 pulls, through the real
google-cloud-pubsub client (REST transport), a fake Pub/Sub API delivering Cloud Monitoring's
notifications (schema 1.2), and starts runs through the real kfp-server-api client against a fake
Kubeflow Pipelines API."""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

import fake_kfp_api
import pytest
from fake_kfp_api import FakeKfp
from receiver_server import NAMESPACE, Server, kfp_entry, serve_kfp

from mlopsctl_stage.cli import main

SUBSCRIPTION = "projects/acme/subscriptions/demo-dev-usc1-monitor-shift-retrain"
HOLD = 0.2
"""Seconds the fake holds a pull that finds nothing, as Pub/Sub does."""


def notification(state: str) -> dict[str, Any]:
    """What Cloud Monitoring publishes to a ``pubsub`` channel for an incident (schema version 1.2)."""
    return {
        "version": "1.2",
        "incident": {
            "incident_id": "0.n1x2y3z4",
            "scoping_project_id": "acme",
            "scoping_project_number": 123456789012,
            "url": "https://console.cloud.google.com/monitoring/alerting/incidents/0.n1x2y3z4?project=acme",
            "started_at": 1777629600,
            "ended_at": 1777633200 if state == "closed" else None,
            "state": state,
            "summary": "Prediction latency of endpoint api is above the threshold of 300 ms.",
            "policy_name": "demo shift (dev/us-central1)",
            "policy_user_labels": {"mlops-monitor": "shift"},
            "condition_name": "latency",
            "condition": {"name": "projects/acme/alertPolicies/1/conditions/2", "displayName": "latency"},
            "resource": {"type": "aiplatform.googleapis.com/Endpoint", "labels": {"endpoint_id": "42"}},
            "resource_type_display_name": "Vertex AI Endpoint",
            "metric": {"type": "aiplatform.googleapis.com/prediction/online/prediction_latencies"},
            "metadata": {"system_labels": {}, "user_labels": {}},
            "documentation": {"content": "Retrains train.", "mime_type": "text/markdown"},
            "observed_value": "412.000",
            "threshold_value": "300",
        },
    }


@dataclass
class FakePubsub:
    """A subscription's messages: published, delivered until acknowledged, redelivered when refused."""

    queued: list[tuple[str, bytes]] = field(default_factory=list)
    outstanding: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    acked: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    pull_failures: list[int] = field(default_factory=list)
    """HTTP statuses answered to the next pulls."""
    lock: threading.Condition = field(default_factory=threading.Condition)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def publish(self, data: bytes) -> str:
        with self.lock:
            message_id = str(next(self._ids))
            self.queued.append((message_id, data))
            self.lock.notify_all()
            return message_id

    def request(
        self, method: str, path: str, query: dict[str, str], headers: Message, data: bytes
    ) -> tuple[int, Any]:
        subscription, _, verb = path.removeprefix("/v1/").partition(":")
        if (method, subscription) != ("POST", SUBSCRIPTION):
            return 404, {"error": {"code": 404, "message": f"no {path}", "status": "NOT_FOUND"}}
        body = json.loads(data or b"{}")
        with self.lock:
            if verb == "pull":
                return self._pull(int(body["maxMessages"]))
            for ack_id in body["ackIds"]:
                message = self.outstanding.pop(ack_id)
                if verb == "acknowledge":
                    self.acked.append(message[0])
                else:  # modifyAckDeadline: 0 (proto3 JSON leaves it out) hands it back at once
                    assert body.get("ackDeadlineSeconds", 0) == 0
                    self.refused.append(message[0])
                    self.queued.append(message)
            self.lock.notify_all()
            return 200, {}

    def _pull(self, most: int) -> tuple[int, Any]:
        if self.pull_failures:
            status = self.pull_failures.pop(0)
            return status, {"error": {"code": status, "message": "denied", "status": "PERMISSION_DENIED"}}
        if not self.queued:
            self.lock.wait(HOLD)
        delivered, self.queued = self.queued[:most], self.queued[most:]
        received = []
        for message_id, data in delivered:
            ack_id = f"ack-{message_id}-{next(self._ids)}"
            self.outstanding[ack_id] = (message_id, data)
            message = {"data": base64.b64encode(data).decode(), "messageId": message_id}
            received.append({"ackId": ack_id, "message": {**message, "publishTime": "2026-05-01T10:00:00Z"}})
        return 200, {"receivedMessages": received} if received else {}

    def wait_for(self, done: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 10
        with self.lock:
            while not done():
                assert time.monotonic() < deadline, (self.acked, self.refused, self.queued)
                self.lock.wait(0.05)


@pytest.fixture
def kfp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeKfp]:
    yield from serve_kfp(tmp_path, monkeypatch)


@pytest.fixture
def pubsub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePubsub]:
    fake = FakePubsub()
    with fake_kfp_api.serve_json(fake.request) as address:
        monkeypatch.setenv("MLOPSCTL_PUBSUB_ENDPOINT", f"http://{address}")
        yield fake


def config(kfp: FakeKfp) -> dict[str, Any]:
    return {
        "namespace": NAMESPACE,
        "retrain": {"shift": {"train": kfp_entry(kfp)}},
        "subscriptions": {SUBSCRIPTION: "shift"},
    }


@pytest.fixture
def receiver(kfp: FakeKfp, pubsub: FakePubsub) -> Iterator[Server]:
    server = Server(config(kfp))
    yield server
    server.stop()


def _publish(pubsub: FakePubsub, message: Any) -> str:
    return pubsub.publish(message if isinstance(message, bytes) else json.dumps(message).encode())


def _events(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


@pytest.mark.parametrize(
    "message",
    [notification("open"), {"modelMonitoringJob": "projects/acme/locations/us-central1/modelMonitors/7"}],
    ids=["open-incident", "not-an-incident"],
)
def test_a_notification_starts_one_run_and_is_acknowledged(
    kfp: FakeKfp, pubsub: FakePubsub, receiver: Server, message: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    sent = _publish(pubsub, message)
    pubsub.wait_for(lambda: sent in pubsub.acked)
    [run] = kfp.created_runs()
    assert (run["runtime_config"], run["service_account"]) == (
        {"parameters": {"epochs": 3}},
        "pipeline-train",
    )
    assert {c.authorization for c in kfp.calls} == {"Bearer projected-token"}
    assert pubsub.refused == []
    [event] = _events(capsys)
    assert event == {
        "event": "retrain-started",
        "outcome": "started",
        "monitor": "shift",
        "pipeline": "train",
        "run": kfp.runs[-1]["run_id"],
    }


def test_a_repeated_notification_starts_nothing_while_the_run_is_not_over(
    kfp: FakeKfp, pubsub: FakePubsub, receiver: Server
) -> None:
    first = _publish(pubsub, notification("open"))
    pubsub.wait_for(lambda: first in pubsub.acked)
    kfp.runs[-1]["state"] = "RUNNING"
    again = _publish(pubsub, notification("open"))
    pubsub.wait_for(lambda: again in pubsub.acked)
    assert len(kfp.created_runs()) == 1
    kfp.runs[-1]["state"] = "SUCCEEDED"  # over: the next alert retrains again
    later = _publish(pubsub, notification("open"))
    pubsub.wait_for(lambda: later in pubsub.acked)
    assert len(kfp.created_runs()) == 2
    assert pubsub.refused == []


def test_a_closed_incident_starts_nothing_and_is_acknowledged(
    kfp: FakeKfp, pubsub: FakePubsub, receiver: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    sent = _publish(pubsub, notification("closed"))
    pubsub.wait_for(lambda: sent in pubsub.acked)
    assert kfp.calls == []
    assert [e["event"] for e in _events(capsys)] == ["retrain-resolved"]


def test_a_backend_failure_is_not_acknowledged_and_the_redelivery_starts_the_run(
    kfp: FakeKfp, pubsub: FakePubsub, receiver: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    kfp.failures.append((503, "ml-pipeline is restarting"))
    sent = _publish(pubsub, notification("open"))
    pubsub.wait_for(lambda: sent in pubsub.acked)
    assert pubsub.refused == [sent]  # refused once, redelivered, then handled
    assert len(kfp.created_runs()) == 1
    failed, started = _events(capsys)
    assert (failed["event"], started["event"]) == ("retrain-failed", "retrain-started")
    assert "503 ml-pipeline is restarting" in failed["why"]


def test_a_failed_pull_is_logged_and_retried(
    kfp: FakeKfp, pubsub: FakePubsub, capsys: pytest.CaptureFixture[str]
) -> None:
    pubsub.pull_failures.append(403)
    sent = _publish(pubsub, notification("open"))
    server = Server(config(kfp))
    try:
        pubsub.wait_for(lambda: sent in pubsub.acked)
    finally:
        server.stop()
    failed, started = _events(capsys)
    assert (failed["event"], failed["subscription"], failed["retryIn"]) == ("pull-failed", SUBSCRIPTION, 1.0)
    assert "403" in failed["why"]
    assert started["event"] == "retrain-started"


@pytest.mark.parametrize(
    ("subscriptions", "message"),
    [
        ([], "subscriptions: must map subscriptions to the monitor each notifies"),
        ({SUBSCRIPTION: "other"}, f"subscriptions.{SUBSCRIPTION}: names no monitor of retrain: 'other'"),
    ],
)
def test_a_subscription_of_no_monitor_fails_at_startup(
    kfp: FakeKfp, subscriptions: Any, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = {**config(kfp), "subscriptions": subscriptions}
    with pytest.raises(SystemExit) as exit_:
        main(["retrain-receiver", "--config", json.dumps(bad), "--port", "0"])
    assert exit_.value.code == 1
    assert f"mlopsctl-stage retrain-receiver: {message}" in capsys.readouterr().err
