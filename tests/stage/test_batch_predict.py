"""The ``batch-predict`` stage against the real serve app and a flaky fake endpoint, all on 127.0.0.1."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import joblib  # type: ignore[import-untyped]
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import uvicorn
from sklearn.linear_model import LogisticRegression

from mlopsctl_stage.cli import main
from mlopsctl_stage.models import load_model
from mlopsctl_stage.stages.serve import build_app

CLUSTER_URL = "http://fraud.models.svc.cluster.local"
RNG = np.random.default_rng(11)
X = RNG.normal(size=(120, 2))
Y = (X[:, 0] > X[:, 1]).astype(int)


def _use_endpoint(local: str, now: str | None = None) -> None:
    """Point the local run's stand-in of ``CLUSTER_URL`` at ``local``."""
    settings = Path(os.environ["MLOPSCTL_STAGE_LOCAL"])
    found = json.loads(settings.read_text())
    settings.write_text(json.dumps({**found, "endpoints": {CLUSTER_URL: local}, "now": now}))


def _bigquery(root: Path, table: str, data: pa.Table) -> str:
    (root / "bigquery").mkdir(exist_ok=True)
    pq.write_table(data, root / "bigquery" / f"{table}.parquet")
    return table


def _run(config: dict[str, Any]) -> None:
    main(["batch-predict", "--config", json.dumps(config)])


@pytest.fixture
def serve_app(tmp_path: Path) -> Iterator[str]:
    """The real serve app of a scikit-learn classifier (features x0, x1), with uvicorn in a thread."""
    estimator = LogisticRegression().fit(X, Y)
    joblib.dump(estimator, tmp_path / "model.joblib")
    server = uvicorn.Server(
        uvicorn.Config(
            build_app(load_model(tmp_path), "fraud"), host="127.0.0.1", port=0, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=10)


class FakeEndpoint:
    """A KServe v1 endpoint answering ``2 * x`` per instance, failing as told; it records every call."""

    def __init__(self, fail: Callable[[int, list[dict[str, Any]]], int | None]) -> None:
        self.fail = fail
        self.calls: list[list[dict[str, Any]]] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.lock = threading.Lock()

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        instances = json.loads(request.rfile.read(int(request.headers["Content-Length"])))["instances"]
        with self.lock:
            self.calls.append(instances)
            attempt = sum(1 for call in self.calls if call == instances)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        time.sleep(0.02)
        status = self.fail(attempt, instances)
        # Done before the answer leaves: once the client has it, it may send the next request.
        with self.lock:
            self.in_flight -= 1
        if status == 0:  # hang up without an answer: a connection error
            request.close_connection = True
            return
        body = json.dumps(
            {"error": "model overloaded"} if status else {"predictions": [2 * row["x"] for row in instances]}
        ).encode()
        request.send_response(status or 200)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)


@pytest.fixture
def fake_endpoint() -> Iterator[Callable[[Callable[[int, list[dict[str, Any]]], int | None]], FakeEndpoint]]:
    servers: list[ThreadingHTTPServer] = []

    def start(fail: Callable[[int, list[dict[str, Any]]], int | None]) -> FakeEndpoint:
        endpoint = FakeEndpoint(fail)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                endpoint.handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
        servers.append(server)
        _use_endpoint(f"http://127.0.0.1:{server.server_address[1]}")
        return endpoint

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_bigquery_in_bigquery_out_through_serve(local_root: Path, serve_app: str) -> None:
    _use_endpoint(serve_app)
    source = _bigquery(local_root, "p.ds.transactions", pa.table({"x0": X[:, 0], "x1": X[:, 1]}))
    config = {
        "model": {"name": "fraud", "version": "v3", "uri": "gs://models/fraud/v3", "framework": "sklearn"},
        "endpoint": {"url": CLUSTER_URL, "protocol": "v1"},
        "input": {"bigquery": {"table": source}},
        "output": {"bigquery": {"table": "p.ds.scores"}},
        "batchSize": 25,
        "concurrency": 3,
    }
    _run(config)
    rows = [
        json.loads(line) for line in (local_root / "bigquery" / "p.ds.scores.jsonl").read_text().splitlines()
    ]
    expected = LogisticRegression().fit(X, Y).predict(X).tolist()
    assert [row["prediction"] for row in rows] == expected
    assert [[row["x0"], row["x1"]] for row in rows] == X.tolist()


def test_gcs_files_in_parquet_out_with_v2(local_root: Path, serve_app: str) -> None:
    _use_endpoint(serve_app, now="2024-05-01T12:00:00+00:00")
    folder = local_root / "gcs" / "landing" / "batch"
    folder.mkdir(parents=True)
    for part, rows in enumerate((slice(0, 70), slice(70, 120))):
        pq.write_table(pa.table({"x0": X[rows, 0], "x1": X[rows, 1]}), folder / f"part-{part}.parquet")
    (folder / "_SUCCESS").write_text("")
    config = {
        "model": {"name": "fraud"},
        "endpoint": {"url": CLUSTER_URL + "/", "protocol": "v2"},
        "input": {"gcs": "gs://landing/batch/"},
        "output": {"gcs": "gs://results/fraud/"},
        "batchSize": 50,
    }
    _run(config)
    out = local_root / "gcs" / "results" / "fraud" / "predictions-20240501T120000000000Z.parquet"
    result = pq.read_table(out)
    assert result.column_names == ["x0", "x1", "prediction", "prediction_probabilities"]
    estimator = LogisticRegression().fit(X, Y)
    assert result.column("prediction").to_pylist() == estimator.predict(X).tolist()
    assert np.allclose(
        np.array(result.column("prediction_probabilities").to_pylist()), estimator.predict_proba(X)
    )


def test_batches_and_concurrency(local_root: Path, fake_endpoint: Any) -> None:
    endpoint = fake_endpoint(lambda attempt, rows: None)
    source = _bigquery(local_root, "p.ds.in", pa.table({"x": list(range(100))}))
    config = {
        "model": {"name": "m"},
        "endpoint": {"url": CLUSTER_URL},
        "input": {"bigquery": {"table": source}},
    }
    _run({**config, "output": {"bigquery": {"table": "p.ds.out"}}, "batchSize": 8, "concurrency": 3})
    # Distinct batches: on a loaded machine a dropped connection may have a batch sent twice.
    batches = {json.dumps(call) for call in endpoint.calls}
    assert sorted(len(json.loads(batch)) for batch in batches) == [4] + [8] * 12
    assert 1 <= endpoint.most_in_flight <= 3
    rows = [
        json.loads(line) for line in (local_root / "bigquery" / "p.ds.out.jsonl").read_text().splitlines()
    ]
    assert [row["prediction"] for row in rows] == [2 * x for x in range(100)]


@pytest.mark.parametrize("failure", [503, 0], ids=["503", "connection-dropped"])
def test_retries_on_5xx_and_connection_errors(local_root: Path, fake_endpoint: Any, failure: int) -> None:
    endpoint = fake_endpoint(lambda attempt, rows: failure if attempt == 1 else None)  # each batch fails once
    source = _bigquery(local_root, "p.ds.in", pa.table({"x": list(range(30))}))
    config = {"endpoint": {"url": CLUSTER_URL, "modelName": "m"}, "input": {"bigquery": {"table": source}}}
    _run({**config, "output": {"bigquery": {"table": "p.ds.out"}}, "batchSize": 10, "retries": 2})
    assert len(endpoint.calls) == 6
    rows = [
        json.loads(line) for line in (local_root / "bigquery" / "p.ds.out.jsonl").read_text().splitlines()
    ]
    assert [row["prediction"] for row in rows] == [2 * x for x in range(30)]


@pytest.mark.parametrize(
    ("status", "retries", "calls", "message"),
    [
        (500, 1, 2, 'answered 500 after 1 retries: {"error": "model overloaded"}'),
        (400, 3, 1, 'answered 400: {"error": "model overloaded"}'),
    ],
)
def test_failures_stop_the_stage(
    local_root: Path,
    fake_endpoint: Any,
    capsys: pytest.CaptureFixture[str],
    status: int,
    retries: int,
    calls: int,
    message: str,
) -> None:
    endpoint = fake_endpoint(lambda attempt, rows: status)
    source = _bigquery(local_root, "p.ds.in", pa.table({"x": [1, 2, 3]}))
    config = {"endpoint": {"url": CLUSTER_URL, "modelName": "m"}, "input": {"bigquery": {"table": source}}}
    with pytest.raises(SystemExit) as exit_info:
        _run({**config, "output": {"bigquery": {"table": "p.ds.out"}}, "retries": retries})
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("mlopsctl-stage batch-predict: endpoint: http://127.0.0.1:") and message in err
    assert err.count("\n") == 1
    assert len(endpoint.calls) == calls
    assert not (local_root / "bigquery" / "p.ds.out.jsonl").exists()


def test_an_empty_input_writes_nothing(local_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _bigquery(local_root, "p.ds.in", pa.table({"x": pa.array([], pa.int64())}))
    config = {"endpoint": {"url": CLUSTER_URL, "modelName": "m"}, "input": {"bigquery": {"table": source}}}
    _run({**config, "output": {"gcs": "gs://out/"}})
    assert "nothing to score: bq://p.ds.in has no rows" in capsys.readouterr().err
    assert not (local_root / "gcs").exists()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "endpoint.url: the URL of the endpoint to call is required"),
        (
            {"endpoint": {"url": CLUSTER_URL}},
            "endpoint.modelName: the model's name on the endpoint is required",
        ),
        (
            {"endpoint": {"url": CLUSTER_URL, "modelName": "m", "protocol": "v3"}},
            'endpoint.protocol: must be v1 or v2, not "v3"',
        ),
        (
            {"endpoint": {"url": CLUSTER_URL, "modelName": "m"}, "batchSize": 0},
            "batchSize: must be a whole number >= 1, not 0",
        ),
        (
            {"endpoint": {"url": CLUSTER_URL, "modelName": "m"}, "retries": -1},
            "retries: must be a whole number >= 0",
        ),
        (
            {"endpoint": {"url": CLUSTER_URL, "modelName": "m"}, "input": {"s3": "x"}},
            'input: must be {"bigquery"',
        ),
        (
            {
                "endpoint": {"url": CLUSTER_URL, "modelName": "m"},
                "input": {"gcs": "gs://none/"},
                "output": {"gcs": "gs://o/"},
            },
            "no data files there",
        ),
    ],
)
def test_bad_config_fails_with_one_line(
    local_root: Path, capsys: pytest.CaptureFixture[str], config: dict[str, Any], message: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _run({"input": {"bigquery": {"table": "p.ds.in"}}, "output": {"gcs": "gs://o/"}} | config)
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("mlopsctl-stage batch-predict: ") and message in err and err.count("\n") == 1
