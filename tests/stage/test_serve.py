"""The ``serve`` stage: KServe v1/v2 over HTTP, as a real process on 127.0.0.1."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import joblib  # type: ignore[import-untyped]
import numpy as np
import pytest
import urllib3
import uvicorn
from sklearn.linear_model import LogisticRegression

from mlopsctl_stage.cli import main
from mlopsctl_stage.models import load_model
from mlopsctl_stage.stages.serve import build_app

RNG = np.random.default_rng(5)
X = RNG.normal(size=(50, 3))
Y = (X[:, 0] - X[:, 2] > 0).astype(int)
HTTP = urllib3.PoolManager(retries=False, timeout=10.0)
pytestmark = pytest.mark.filterwarnings("ignore:X does not have valid feature names:UserWarning")


def _estimator() -> LogisticRegression:
    estimator = LogisticRegression().fit(X, Y)
    estimator.feature_names_in_ = np.array(["a", "b", "c"], dtype=object)  # as if fitted on a data frame
    return estimator


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _call(method: str, url: str, body: Any = None, raw: bytes | None = None) -> tuple[int, Any]:
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    response = HTTP.request(method, url, body=data, headers={"Content-Type": "application/json"})
    try:
        return response.status, json.loads(response.data)
    except ValueError:
        return response.status, response.data.decode()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``mlopsctl-stage serve`` of a gs:// model in local mode, as a child process; its base URL."""
    root = tmp_path_factory.mktemp("serve")
    model_dir = root / "data" / "gcs" / "models" / "fraud" / "v1"
    model_dir.mkdir(parents=True)
    joblib.dump(_estimator(), model_dir / "model.joblib")
    settings = root / "local.json"
    settings.write_text(json.dumps({"root": str(root / "data"), "code": {}, "endpoints": {}, "now": None}))
    port = _free_port()
    command = [sys.executable, "-m", "mlopsctl_stage", "serve", "--model-uri", "gs://models/fraud/v1"]
    command += ["--port", str(port), "--name", "fraud"]
    env = {**os.environ, "MLOPSCTL_STAGE_LOCAL": str(settings)}
    log = root / "serve.log"
    with log.open("w") as err:
        process = subprocess.Popen(command, env=env, stderr=err)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if HTTP.request("GET", f"{base}/v2/health/ready").status == 200:
                    break
            except urllib3.exceptions.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"serve did not start: {log.read_text()}")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_v1_instances_as_objects_or_lists(server: str) -> None:
    expected = _estimator().predict(X).tolist()
    objects = [{"c": row[2], "a": row[0], "b": row[1]} for row in X.tolist()]  # by name, any order
    assert _call("POST", f"{server}/v1/models/fraud:predict", {"instances": objects}) == (
        200,
        {"predictions": expected},
    )
    lists = X.tolist()
    assert _call("POST", f"{server}/v1/models/fraud:predict", {"instances": lists}) == (
        200,
        {"predictions": expected},
    )


def test_v2_matrix_or_one_input_per_feature(server: str) -> None:
    estimator = _estimator()
    matrix = {
        "id": "r1",
        "inputs": [{"name": "x", "shape": [50, 3], "datatype": "FP64", "data": X.ravel().tolist()}],
    }
    status, answer = _call("POST", f"{server}/v2/models/fraud/infer", matrix)
    assert status == 200 and answer["model_name"] == "fraud" and answer["id"] == "r1"
    predict, probabilities = answer["outputs"]
    assert predict == {
        "name": "predict",
        "shape": [50],
        "datatype": "INT64",
        "data": estimator.predict(X).tolist(),
    }
    assert probabilities["shape"] == [50, 2] and probabilities["datatype"] == "FP64"
    assert np.allclose(np.reshape(probabilities["data"], (50, 2)), estimator.predict_proba(X))

    columns = [
        {"name": name, "shape": [50, 1], "datatype": "FP64", "data": X[:, i].tolist()}
        for i, name in reversed(list(enumerate("abc")))
    ]
    status, answer = _call("POST", f"{server}/v2/models/fraud/infer", {"inputs": columns})
    assert status == 200 and answer["outputs"][0]["data"] == estimator.predict(X).tolist()


def test_health_and_metadata(server: str) -> None:
    assert _call("GET", f"{server}/v2/health/ready") == (200, {"ready": True})
    assert _call("GET", f"{server}/v2/health/live") == (200, {"live": True})
    assert _call("GET", f"{server}/v1/models/fraud") == (200, {"name": "fraud", "ready": True})
    assert _call("GET", f"{server}/v2/models/fraud") == (
        200,
        {"name": "fraud", "versions": ["1"], "platform": "sklearn"},
    )
    assert _call("GET", f"{server}/v2/models/other")[0] == 404


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        (":predict", b"{not json", "the body is not JSON"),
        (":predict", b"[1, 2]", "the body must be a JSON object"),
        (":predict", b'{"instances": []}', '"instances" must be a non-empty list'),
        (":predict", b'{"instances": [{"a": 1}, [1, 2, 3]]}', "instances must be all objects"),
        (
            ":predict",
            b'{"instances": [{"a": 1, "b": 2, "c": 3}, {"a": 1}]}',
            "every instance must have the same features",
        ),
        (":predict", b'{"instances": [{"a": 1, "b": 2}]}', "the model needs 'c', not in the data"),
        (
            ":predict",
            b'{"instances": [{"a": "x", "b": 2, "c": 3}]}',
            "'a' is string, and models take numbers",
        ),
        (":predict", b'{"instances": [[1, 2]]}', "prediction failed: X has 2 features"),
        (
            "/infer",
            b'{"inputs": [{"name": "x", "shape": [2, 2], "data": [1, 2, 3]}]}',
            "input 'x': cannot reshape",
        ),
        ("/infer", b'{"inputs": "x"}', '"inputs" must be a non-empty list'),
    ],
)
def test_bad_requests_get_400_with_the_reason(server: str, path: str, body: bytes, message: str) -> None:
    url = f"{server}/v1/models/fraud:predict" if path == ":predict" else f"{server}/v2/models/fraud/infer"
    status, answer = _call("POST", url, raw=body)
    assert status == 400 and message in answer["error"]


@pytest.fixture
def in_thread(tmp_path: Path) -> Iterator[Any]:
    """Serve ``build_app(...)`` with uvicorn in a thread; yields a function returning the base URL."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(app: Any) -> str:
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.01)
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.mark.parametrize(("protocol", "v1_status", "v2_status"), [("v1", 200, 404), ("v2", 404, 200)])
def test_protocol_flag_serves_one_protocol(
    tmp_path: Path, in_thread: Any, protocol: str, v1_status: int, v2_status: int
) -> None:
    joblib.dump(_estimator(), tmp_path / "model.joblib")
    base = in_thread(build_app(load_model(tmp_path), "m", protocol))
    assert _call("POST", f"{base}/v1/models/m:predict", {"instances": X[:2].tolist()})[0] == v1_status
    v2 = {"inputs": [{"name": "x", "shape": [2, 3], "datatype": "FP64", "data": X[:2].ravel().tolist()}]}
    assert _call("POST", f"{base}/v2/models/m/infer", v2)[0] == v2_status
    assert _call("GET", f"{base}/v2/health/ready")[0] == 200


def test_a_missing_model_fails_before_serving(local_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--model-uri", str(local_root / "nothing"), "--port", "1"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err == f"mlopsctl-stage serve: --model-uri: {local_root / 'nothing'} is not a model folder\n"
