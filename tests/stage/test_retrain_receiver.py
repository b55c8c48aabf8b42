"""``retrain-receiver``: the real server on 127.0.0.1, sent Alertmanager's webhook payloads, starting runs
through the real kfp-server-api and google-cloud-aiplatform clients against fake APIs."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fake_gcs_api
import pytest
import vertex_stage_fake
from fake_kfp_api import FakeKfp
from receiver_server import NAMESPACE, VERSION, Server, kfp_entry, serve_kfp
from vertex_stage_fake import FakeVertex

from mlopsctl_stage.cli import main

SPEC = {"pipelineInfo": {"name": "train"}, "root": {}, "schemaVersion": "2.1.0"}


VERTEX_ENTRY = {
    "backend": "vertex",
    "project": "proj",
    "location": "europe-west4",
    "pipelineSpecUri": "gs://specs/train/0123abcd.json",
    "pipelineRoot": "gs://proj-root/root",
    "displayName": "train",
    "serviceAccount": "pipeline-train@proj.iam.gserviceaccount.com",
    "labels": {"mlops-pipeline": "train"},
    "parameters": {"epochs": 3},
}


def alert(status: str = "firing", monitor: str = "slow", pipeline: str = "train", **labels: str) -> Any:
    return {
        "status": status,
        "labels": {
            "alertname": "Slow",
            "namespace": NAMESPACE,
            "monitor": monitor,
            "retrain_pipeline": pipeline,
            "retrain_pipeline_version": VERSION,
            **labels,
        },
        "annotations": {"summary": "latency objective of endpoint 'api' is not met"},
        "startsAt": "2026-05-01T10:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus/graph",
        "fingerprint": f"{monitor}-{pipeline}",
    }


def payload(*alerts: Any) -> dict[str, Any]:
    """Alertmanager's webhook payload (version 4) of one alert group."""
    group = {"namespace": NAMESPACE, "retrain_pipeline": "train"}
    return {
        "version": "4",
        "groupKey": '{}:{namespace="demo", retrain_pipeline="train"}',
        "truncatedAlerts": 0,
        "status": "firing" if any(a["status"] == "firing" for a in alerts) else "resolved",
        "receiver": "retrain",
        "groupLabels": group,
        "commonLabels": group,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(alerts),
    }


@pytest.fixture
def kfp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeKfp]:
    yield from serve_kfp(tmp_path, monkeypatch)


@pytest.fixture
def on_kfp(kfp: FakeKfp) -> Iterator[Server]:
    server = Server({"namespace": NAMESPACE, "retrain": {"slow": {"train": kfp_entry(kfp)}}})
    yield server
    server.stop()


def test_a_firing_alert_starts_one_run(
    kfp: FakeKfp, on_kfp: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    status, answer = on_kfp.post(payload(alert()))
    [run] = kfp.created_runs()
    assert run["runtime_config"] == {"parameters": {"epochs": 3}}
    assert run["service_account"] == "pipeline-train"
    assert (status, answer) == (
        200,
        {"results": [{"outcome": "started", "monitor": "slow", "pipeline": "train", "run": run_id(kfp)}]},
    )
    assert {c.authorization for c in kfp.calls} == {"Bearer projected-token"}
    assert json.loads(capsys.readouterr().out)["event"] == "retrain-started"


def run_id(kfp: FakeKfp) -> str:
    return str(kfp.runs[-1]["run_id"])


def test_a_repeated_alert_starts_nothing_while_the_run_is_not_over(kfp: FakeKfp, on_kfp: Server) -> None:
    on_kfp.post(payload(alert()))
    first = run_id(kfp)
    for state in ("PENDING", "RUNNING"):
        kfp.runs[-1]["state"] = state
        status, answer = on_kfp.post(payload(alert()))
        assert (status, answer["results"][0]["outcome"], answer["results"][0]["run"]) == (
            200,
            "running",
            first,
        )
    assert len(kfp.created_runs()) == 1
    kfp.runs[-1]["state"] = "SUCCEEDED"  # over: the next breach retrains again
    assert on_kfp.post(payload(alert()))[1]["results"][0]["outcome"] == "started"
    assert len(kfp.created_runs()) == 2


@pytest.mark.parametrize(
    ("alerts", "outcomes"),
    [
        ([alert("resolved")], ["resolved"]),
        ([alert(monitor="other")], ["ignored"]),
        ([alert(pipeline="other")], ["ignored"]),
        ([alert(namespace="elsewhere")], ["ignored"]),
    ],
    ids=["resolved", "unknown-monitor", "unknown-pipeline", "other-namespace"],
)
def test_resolved_and_unknown_alerts_start_nothing(
    kfp: FakeKfp, on_kfp: Server, alerts: list[Any], outcomes: list[str]
) -> None:
    status, answer = on_kfp.post(payload(*alerts))
    assert (status, [r["outcome"] for r in answer["results"]]) == (200, outcomes)
    assert kfp.calls == []


def test_alerts_of_one_pipeline_in_one_payload_start_one_run(kfp: FakeKfp) -> None:
    entry = kfp_entry(kfp)
    server = Server(
        {"namespace": NAMESPACE, "retrain": {"slow": {"train": entry}, "errors": {"train": entry}}}
    )
    try:
        status, answer = server.post(payload(alert(), alert(monitor="errors"), alert(severity="critical")))
    finally:
        server.stop()
    assert status == 200
    assert [r["outcome"] for r in answer["results"]] == ["started"] * 3
    assert len({r["run"] for r in answer["results"]}) == 1
    assert len(kfp.created_runs()) == 1


def test_a_backend_failure_is_retried_by_alertmanager(kfp: FakeKfp, on_kfp: Server) -> None:
    kfp.failures.append((503, "ml-pipeline is restarting"))
    status, answer = on_kfp.post(payload(alert()))
    [result] = answer["results"]
    assert (status, result["outcome"]) == (502, "failed")
    assert "503 ml-pipeline is restarting" in result["why"]
    assert kfp.created_runs() == []
    assert on_kfp.post(payload(alert()))[0] == 200  # Alertmanager retries a 5xx answer
    assert len(kfp.created_runs()) == 1


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", json.dumps({"alerts": [{"labels": {"monitor": 1}}]}).encode()],
    ids=["not-json", "not-an-object", "bad-labels"],
)
def test_what_is_not_a_webhook_payload_is_refused(kfp: FakeKfp, on_kfp: Server, body: bytes) -> None:
    assert on_kfp.post(body)[0] == 400
    assert kfp.calls == []


def test_healthz(on_kfp: Server) -> None:
    with urllib.request.urlopen(f"{on_kfp.url}/healthz", timeout=5) as answer:
        assert (answer.status, answer.read()) == (200, b"ok\n")


@pytest.fixture
def vertex(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeVertex]:
    monkeypatch.delenv("MLOPSCTL_STAGE_LOCAL", raising=False)
    with fake_gcs_api.serve() as gcs:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs.url)
        gcs.put("specs", "train/0123abcd.json", json.dumps(SPEC).encode())
        for fake in vertex_stage_fake.serve():
            monkeypatch.setenv("MLOPSCTL_VERTEX_ENDPOINT", fake.url)
            yield fake


def test_on_vertex_a_firing_alert_creates_one_pipeline_job(vertex: FakeVertex) -> None:
    server = Server({"namespace": NAMESPACE, "retrain": {"slow": {"train": VERTEX_ENTRY}}})
    try:
        assert server.post(payload(alert()))[1]["results"][0]["outcome"] == "started"
        [call] = vertex.created_jobs()
        assert call.path == "/v1/projects/proj/locations/europe-west4/pipelineJobs"
        assert call.body["pipelineSpec"] == SPEC
        assert call.body["serviceAccount"] == VERTEX_ENTRY["serviceAccount"]
        assert call.body["labels"] == VERTEX_ENTRY["labels"]
        # The new job is pending (the fake answers as the API does): a repeat starts nothing.
        answer = server.post(payload(alert()))[1]["results"][0]
        assert (answer["outcome"], answer["run"]) == ("running", call.query["pipelineJobId"])
        vertex.jobs[-1]["state"] = "PIPELINE_STATE_SUCCEEDED"
        assert server.post(payload(alert()))[1]["results"][0]["outcome"] == "started"
    finally:
        server.stop()
    assert len(vertex.created_jobs()) == 2


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "retrain: must map monitors to {PIPELINE: start-run config}"),
        ({"retrain": {"slow": {"train": {"backend": "argo"}}}}, "retrain.slow.train.backend: must be one of"),
        ({"retrain": {"slow": {"train": {"endpoint": "x"}}}}, "retrain.slow.train: missing namespace"),
    ],
)
def test_a_bad_config_fails_at_startup(
    config: dict[str, Any], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["retrain-receiver", "--config", json.dumps(config), "--port", "0"])
    assert exit_.value.code == 1
    assert f"mlopsctl-stage retrain-receiver: {message}" in capsys.readouterr().err


def test_the_process_serves_until_sigterm(kfp: FakeKfp) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = json.dumps({"retrain": {"slow": {"train": kfp_entry(kfp)}}})
    command = ["retrain-receiver", "--config", config, "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(
        [sys.executable, "-m", "mlopsctl_stage", *command],
        env=os.environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as answer:
                    assert answer.status == 200
                    break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, process.stderr
                time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
