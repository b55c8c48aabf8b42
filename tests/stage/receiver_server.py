"""The retrain receiver served for tests: its real app on 127.0.0.1 (uvicorn in a thread), and the
Kubeflow Pipelines entry its runs start against a fake KFP API (``fake_kfp_api``)."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fake_kfp_api
import pytest
import uvicorn
from fake_kfp_api import FakeKfp

from mlopsctl_stage.stages.retrain_receiver import Receiver, create_app

NAMESPACE = "demo"
VERSION = "train-0123456789"


def kfp_entry(kfp: FakeKfp) -> dict[str, Any]:
    """The ``retrain`` entry that starts pipeline ``train`` on ``kfp``."""
    return {
        "endpoint": kfp.url,
        "namespace": NAMESPACE,
        "pipeline": "train",
        "pipelineVersion": VERSION,
        "experiment": "train",
        "parameters": {"epochs": 3},
        "serviceAccount": "pipeline-train",
    }


def serve_kfp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeKfp]:
    """A fake KFP API holding pipeline ``train``, reached with a projected token (a fixture's body)."""
    (tmp_path / "token").write_text("projected-token\n")
    monkeypatch.setenv("KF_PIPELINES_SA_TOKEN_PATH", str(tmp_path / "token"))
    for fake in fake_kfp_api.serve():
        fake.add_pipeline("train", NAMESPACE, [VERSION])
        yield fake


class Server:
    """The receiver's app served by uvicorn on 127.0.0.1 in a thread (its lifespan starts any pulls)."""

    def __init__(self, config: dict[str, Any]) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.server = uvicorn.Server(
            uvicorn.Config(create_app(Receiver.from_config(config)), log_level="error")
        )
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)

    def post(self, body: Any) -> tuple[int, Any]:
        """POST ``body`` (JSON, or bytes as they are) to /alerts: the status and the decoded answer."""
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}/alerts", data, {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            text = error.read().decode()
            return error.code, json.loads(text) if error.code != 400 else text

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join()
