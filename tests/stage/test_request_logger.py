"""``request-logger`` over real HTTP: uvicorn on 127.0.0.1, KServe-shaped CloudEvents, local tables."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from mlopsctl_stage import storage
from mlopsctl_stage.features import sampled
from mlopsctl_stage.logbuffer import Settings
from mlopsctl_stage.stages.request_logger import create_app

TABLE = "proj.logs.fraud_requests"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
REQUEST = {"instances": [{"amount": 12.5, "country": "de"}]}
RESPONSE = {"predictions": [{"score": 0.93}]}
STAGE = [sys.executable, "-m", "mlopsctl_stage"]


def settings(**changes: Any) -> Settings:
    base: dict[str, Any] = {
        "endpoint": "fraud",
        "flush_seconds": 0.05,
        "batch_size": 100,
        "max_pending": 1000,
        "pair_timeout": 30.0,
        "variants": {"fraud-primary": {"model": "fraud", "version": "v3"}},
    }
    return Settings(**(base | changes))


@contextmanager
def serving(config: Settings, write: Callable[[list[dict[str, Any]]], None] | None = None) -> Iterator[int]:
    """The logger on an ephemeral port of 127.0.0.1 (yielded); stopping it flushes, as a shutdown does."""
    app = create_app(config, write or (lambda rows: storage.append_rows(TABLE, rows)))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the logger did not start"
        time.sleep(0.01)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def post(port: int, kind: str, event_id: str, body: Any, at: datetime = T0, **headers: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(
        "POST",
        "/",
        body=json.dumps(body).encode() if not isinstance(body, bytes) else body,
        headers={
            "Content-Type": "application/json",
            "ce-id": event_id,
            "ce-type": f"org.kubeflow.serving.inference.{kind}",
            "ce-source": "http://localhost:9081/",
            "ce-specversion": "1.0",
            "ce-time": at.isoformat().replace("+00:00", "Z"),
            "ce-inferenceservicename": "fraud-primary",
            "ce-namespace": "team",
            "ce-component": "predictor",
            "ce-endpoint": "default",
            "ce-metadata": "{}",
            **headers,
        },
    )
    status = connection.getresponse().status
    connection.close()
    return status


def get(port: int, path: str) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path)
    response = connection.getresponse()
    found = response.status, response.read().decode()
    connection.close()
    return found


def metric(port: int, name: str) -> float:
    _, text = get(port, "/metrics")
    return sum(
        float(line.split()[-1]) for line in text.splitlines() if line.split("{")[0].split(" ")[0] == name
    )


def rows(root: Path) -> list[dict[str, Any]]:
    path = root / "bigquery" / f"{TABLE}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def wait_for(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.parametrize("response_first", [False, True])
def test_pairs_request_and_response_into_one_row(local_root: Path, response_first: bool) -> None:
    events = [("request", REQUEST, T0), ("response", RESPONSE, T0 + timedelta(milliseconds=42))]
    with serving(settings()) as port:
        for kind, body, at in reversed(events) if response_first else events:
            assert post(port, kind, "id-1", body, at) == 200
        wait_for(lambda: len(rows(local_root)) == 1)
        assert metric(port, "request_logger_rows_written_total") == 1
    [row] = rows(local_root)
    assert json.loads(row["request"]) == REQUEST and json.loads(row["response"]) == RESPONSE
    assert row["latency_ms"] == pytest.approx(42.0)
    assert datetime.fromisoformat(row["timestamp"]) == T0
    assert {k: row[k] for k in ("request_id", "endpoint", "variant", "model", "model_version", "status")} == {
        "request_id": "id-1",
        "endpoint": "fraud",
        "variant": "fraud-primary",
        "model": "fraud",
        "model_version": "v3",
        "status": 200,
    }
    # what the drift stage reads back
    table = storage.read_table(TABLE)
    assert json.loads(table["request"][0].as_py()) == REQUEST


def test_unpaired_events_are_written_alone_after_the_timeout(local_root: Path) -> None:
    with serving(settings(pair_timeout=0.2)) as port:
        assert post(port, "request", "lonely-request", REQUEST) == 200
        assert post(port, "response", "lonely-response", RESPONSE) == 200
        wait_for(lambda: len(rows(local_root)) == 2)
        assert metric(port, "request_logger_unpaired_events_total") == 2
    found = {r["request_id"]: r for r in rows(local_root)}
    assert found["lonely-request"]["response"] is None and found["lonely-request"]["status"] is None
    assert found["lonely-response"]["request"] is None and found["lonely-response"]["status"] == 200
    assert found["lonely-request"]["latency_ms"] is None


def test_shutdown_flushes_pairs_and_unpaired_events(local_root: Path) -> None:
    with serving(settings(flush_seconds=60, batch_size=1000)) as port:
        for i in range(5):
            post(port, "request", f"id-{i}", REQUEST)
            post(port, "response", f"id-{i}", RESPONSE)
        post(port, "request", "no-answer", REQUEST)
        assert rows(local_root) == []  # nothing is due yet
    assert sorted(r["request_id"] for r in rows(local_root)) == [
        "id-0",
        "id-1",
        "id-2",
        "id-3",
        "id-4",
        "no-answer",
    ]


def test_backpressure_answers_503_when_full(local_root: Path) -> None:
    with serving(settings(max_pending=3, flush_seconds=60, batch_size=1000)) as port:
        assert [post(port, "request", f"id-{i}", REQUEST) for i in range(4)] == [200, 200, 200, 503]
        # the answer to a held request is taken all the same: it completes a row
        assert post(port, "response", "id-0", RESPONSE) == 200
        assert post(port, "request", "id-9", REQUEST) == 503
        assert metric(port, "request_logger_rejected_events_total") == 2
        assert metric(port, "request_logger_held_events") == 4
    assert sorted(r["request_id"] for r in rows(local_root)) == ["id-0", "id-1", "id-2"]


def test_a_failed_write_is_retried_until_it_succeeds(local_root: Path) -> None:
    # A folder where the table's file should be: appending fails until it is removed.
    blocker = local_root / "bigquery" / f"{TABLE}.jsonl"
    blocker.mkdir(parents=True)
    with serving(settings()) as port:
        post(port, "request", "id-1", REQUEST)
        post(port, "response", "id-1", RESPONSE)
        wait_for(lambda: metric(port, "request_logger_write_failures_total") >= 2)
        assert metric(port, "request_logger_rows_written_total") == 0
        blocker.rmdir()
        wait_for(lambda: len(rows(local_root)) == 1)
        assert metric(port, "request_logger_rows_written_total") == 1
        assert metric(port, "request_logger_rows_lost_total") == 0
    assert rows(local_root)[0]["request_id"] == "id-1"


def test_sampling_is_deterministic_on_the_event_id(local_root: Path) -> None:
    ids = [f"req-{i}" for i in range(200)]
    with serving(settings(sampling_rate=0.3, batch_size=1000)) as port:
        for event_id in ids:
            post(port, "request", event_id, REQUEST)
            post(port, "response", event_id, RESPONSE)
    kept = sorted(r["request_id"] for r in rows(local_root))
    assert kept == sorted(i for i in ids if sampled(i, 0.3))
    assert 30 < len(kept) < 90


def test_duplicates_bad_events_and_plain_text_bodies(local_root: Path) -> None:
    with serving(settings()) as port:
        assert post(port, "request", "id-1", REQUEST) == 200
        assert post(port, "request", "id-1", REQUEST) == 200  # a retry of the same event
        assert post(port, "response", "id-1", b"not json") == 200
        assert post(port, "request", "id-2", REQUEST, T0, **{"ce-type": "com.example.other"}) == 400
        assert get(port, "/healthz") == (200, "ok\n")
        wait_for(lambda: len(rows(local_root)) == 1)
        assert metric(port, "request_logger_duplicate_events_total") == 1
        assert metric(port, "request_logger_events_total") == 3
    assert json.loads(rows(local_root)[0]["response"]) == "not json"


def test_cli_serves_until_sigterm_and_flushes(local_root: Path, tmp_path: Path) -> None:
    config = {"table": TABLE, "endpoint": "fraud", "samplingRate": 1.0, "flushSeconds": 60}
    port = _free_port()
    process = subprocess.Popen(
        [
            *STAGE,
            "request-logger",
            "--config",
            json.dumps(config),
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
        ],
        env=os.environ.copy(),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: _answers(port), seconds=30)
        assert post(port, "request", "id-1", REQUEST) == 200
        assert post(port, "response", "id-1", RESPONSE) == 200
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    # uvicorn re-raises the signal once shut down: the process ends as killed by SIGTERM, after the flush
    assert process.returncode == -signal.SIGTERM, err
    assert [r["request_id"] for r in rows(local_root)] == ["id-1"]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"endpoint": "fraud"}, "table: missing from --config"),
        (
            {"table": TABLE, "endpoint": "fraud", "samplingRate": 2},
            "samplingRate: must be a number in (0, 1]",
        ),
        ({"table": TABLE, "endpoint": "fraud", "batchSize": 0.5}, "batchSize: must be an integer above 0"),
    ],
)
def test_bad_config(config: dict[str, Any], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    from mlopsctl_stage.cli import main

    with pytest.raises(SystemExit):
        main(["request-logger", "--config", json.dumps(config)])
    assert message in capsys.readouterr().err


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        return get(port, "/healthz")[0] == 200
    except OSError:
        return False
