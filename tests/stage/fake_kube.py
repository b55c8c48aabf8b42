"""A fake Kubernetes API server on 127.0.0.1 for the launchers' tests.

The real ``kubernetes`` client reaches it through a kubeconfig. It serves pods (read only), and
custom objects: create (409 when the name is taken), get, delete, list by label and watch by
name. Each object created goes through ``script``, the statuses a controller would write, one per
watch event; a watch with nothing left to report is held (briefly) like a quiet real one.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

NAMESPACE = "demo"
POD = "p-launcher-pod"
POD_UID = "5f0c2a8e-1111-2222-3333-444455556666"
RUN_ID = "0123abcd-9999-8888-7777-666655554444"
HELD_SECONDS = 0.2
OBJECT_PATH_PARTS = 8
"""/apis/GROUP/VERSION/namespaces/NS/PLURAL/NAME, split at "/"."""


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass
class FakeKube:
    url: str = ""
    pods: dict[str, dict[str, Any]] = field(default_factory=dict)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Path of an object → the object."""
    script: list[dict[str, Any]] = field(default_factory=list)
    refusals: dict[str, tuple[int, str]] = field(default_factory=dict)
    """``METHOD path`` → (status, message) of the error it gets."""
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def created(self) -> list[dict[str, Any]]:
        """The bodies of every create, in order."""
        return [r.body for r in self.requests if r.method == "POST"]

    def calls(self) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.requests]

    def put(self, path: str, obj: dict[str, Any]) -> None:
        """An object that exists already (made by a controller or an earlier attempt)."""
        self.objects[path] = {**obj, "metadata": {"resourceVersion": "1", **obj["metadata"]}}


def pod(labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": POD, "namespace": NAMESPACE, "uid": POD_UID, "labels": labels},
        "spec": {"containers": [{"name": "main", "image": "stages:1"}]},
    }


def _status(code: int, message: str) -> tuple[int, dict[str, Any]]:
    return code, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "code": code}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        fake = self.server.fake
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query))
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        fake.requests.append(Request(method, parts.path, query, body))
        refused = fake.refusals.get(f"{method} {parts.path}")
        if refused is not None:
            self._send(*_status(*refused))
        elif method == "GET" and query.get("watch", "").lower() == "true":
            self._watch(
                f"{parts.path}/{query['fieldSelector'].split('=', 1)[1]}", float(query["timeoutSeconds"])
            )
        else:
            with fake.lock:
                self._send(*self._answer(method, parts.path, query, body))

    def _answer(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        fake = self.server.fake
        if path.startswith("/api/v1/"):
            found = fake.pods.get(path.rsplit("/", 1)[-1])
            return (200, found) if found else _status(404, "pod not found")
        if method == "POST":
            name = body["metadata"]["name"]
            if f"{path}/{name}" in fake.objects:
                return _status(409, f"{name} already exists")
            stored = {**body, "metadata": {**body["metadata"], "uid": f"uid-{name}", "resourceVersion": "1"}}
            fake.objects[f"{path}/{name}"] = stored
            return 201, stored
        if method == "DELETE":
            gone = fake.objects.pop(path, None)
            return (200, {"kind": "Status", "status": "Success"}) if gone else _status(404, "not found")
        if len(path.split("/")) == OBJECT_PATH_PARTS:
            return (200, fake.objects[path]) if path in fake.objects else _status(404, "not found")
        selector = dict(term.split("=", 1) for term in query.get("labelSelector", "").split(",") if term)
        items = [
            obj
            for key, obj in sorted(fake.objects.items())
            if key.rsplit("/", 1)[0] == path
            and all(obj["metadata"].get("labels", {}).get(k) == v for k, v in selector.items())
        ]
        return 200, {"apiVersion": "v1", "kind": "List", "metadata": {}, "items": items}

    def _watch(self, key: str, timeout: float) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        sent = 0
        for event in self._events(key):
            self.wfile.write((json.dumps(event) + "\n").encode())
            self.wfile.flush()
            sent += 1
        if not sent:
            time.sleep(min(timeout, HELD_SECONDS))

    def _events(self, key: str) -> Iterator[dict[str, Any]]:
        fake = self.server.fake
        while True:
            with fake.lock:
                if not fake.script or key not in fake.objects:
                    return
                obj = fake.objects[key]
                obj["status"] = fake.script.pop(0)
                obj["metadata"]["resourceVersion"] = str(int(obj["metadata"]["resourceVersion"]) + 1)
                event = {"type": "MODIFIED", "object": json.loads(json.dumps(obj))}
            yield event

    def _send(self, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeKube


@pytest.fixture
def kube(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeKube]:
    """The fake server, a kubeconfig for it, and the environment KFP gives an executor pod."""
    server = _Server(("127.0.0.1", 0), _Handler)
    fake = FakeKube(url=f"http://127.0.0.1:{server.server_address[1]}")
    fake.pods[POD] = pod({"pipeline/runid": RUN_ID})
    server.fake = fake
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": fake.url}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u", "namespace": NAMESPACE}}],
        "current-context": "x",
    }
    (tmp_path / "kubeconfig").write_text(json.dumps(config))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("MLOPSCTL_STAGE_LOCAL", raising=False)
    monkeypatch.setenv("KFP_POD_NAME", POD)
    yield fake
    server.shutdown()
    server.server_close()
