"""A Kubeflow Pipelines v2beta1 REST API on 127.0.0.1, for kfp-server-api: what ``mlopsctl run`` calls.

Pipelines are found by name in a namespace, their versions listed (with a ``name`` filter),
experiments listed (by namespace and ``display_name`` filter) and created, runs created. The
answers are shaped like the API server's (snake_case JSON, server-assigned ids, google.rpc.Status
errors). Each request is recorded with its ``Authorization`` header; ``fail`` makes the next request
of a route fail.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "/apis/v2beta1/"
_STATUS_CODES = {400: 3, 403: 7, 404: 5, 409: 6, 500: 13}
"""HTTP status → the google.rpc code the API server puts in its error body."""


@dataclass(frozen=True)
class Request:
    route: str
    method: str
    path: str
    query: dict[str, str]
    body: Any
    authorization: str | None


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class FakeKfpApi:
    url: str = ""
    pipelines: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    """(namespace, name) → the pipeline."""
    versions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Pipeline id → its versions."""
    experiments: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    _failures: dict[str, tuple[int, str]] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def publish(self, namespace: str, pipeline: str, *versions: str) -> dict[str, str]:
        """The pipeline and its versions, as ``mlopsctl apply`` leaves them: version name → its id."""
        pipeline_id = self._id("pipeline")
        self.pipelines[(namespace, pipeline)] = {
            "pipeline_id": pipeline_id,
            "name": pipeline,
            "display_name": pipeline,
            "namespace": namespace,
        }
        listed = [
            {
                "pipeline_id": pipeline_id,
                "pipeline_version_id": self._id("version"),
                "name": v,
                "display_name": v,
            }
            for v in versions
        ]
        self.versions[pipeline_id] = listed
        return {"pipeline_id": pipeline_id, **{v["name"]: v["pipeline_version_id"] for v in listed}}

    def add_experiment(self, namespace: str, name: str) -> str:
        experiment = {"experiment_id": self._id("experiment"), "display_name": name, "namespace": namespace}
        self.experiments.append(experiment)
        return str(experiment["experiment_id"])

    def fail(self, route: str, status: int, message: str) -> None:
        """The next request of ``route`` (``get_pipeline``, ``create_run``, ...) is answered ``status``."""
        self._failures[route] = (status, message)

    def routes(self) -> list[str]:
        return [r.route for r in self.requests]

    def _id(self, kind: str) -> str:
        return f"{kind}-{next(self._ids):04d}"

    # Dispatch

    def handle(
        self, method: str, raw: str, body: Any, authorization: str | None
    ) -> tuple[int, dict[str, Any]]:
        parts = urllib.parse.urlsplit(raw)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(parts.query).items()}
        path = urllib.parse.unquote(parts.path)
        for verb, pattern, handler in self._routes():
            match = re.fullmatch(PREFIX + pattern, path)
            if verb != method or match is None:
                continue
            route = handler.__name__.strip("_")
            with self._lock:
                self.requests.append(Request(route, method, path, query, body, authorization))
                try:
                    if route in self._failures:
                        raise _Refused(*self._failures.pop(route))
                    return 200, handler(**match.groupdict(), query=query, body=body)
                except _Refused as refused:
                    code = _STATUS_CODES.get(refused.status, 2)
                    return refused.status, {
                        "error": refused.message,
                        "code": code,
                        "message": refused.message,
                    }
        return 404, {"code": 5, "message": f"no route {method} {path}"}

    def _routes(self) -> list[tuple[str, str, Callable[..., dict[str, Any]]]]:
        return [
            ("GET", r"pipelines/names/(?P<name>[^/]+)", self._get_pipeline),
            ("GET", r"pipelines/(?P<pipeline_id>[^/]+)/versions", self._list_versions),
            ("GET", r"experiments", self._list_experiments),
            ("POST", r"experiments", self._create_experiment),
            ("POST", r"runs", self._create_run),
        ]

    def _get_pipeline(self, name: str, query: dict[str, str], **_: Any) -> dict[str, Any]:
        found = self.pipelines.get((query.get("namespace", ""), name))
        if found is None:
            raise _Refused(404, f"Failed to get a pipeline with name {name}: ResourceNotFoundError")
        return found

    def _list_versions(self, pipeline_id: str, query: dict[str, str], **_: Any) -> dict[str, Any]:
        if pipeline_id not in self.versions:
            raise _Refused(404, f"Pipeline {pipeline_id} not found")
        listed = [v for v in self.versions[pipeline_id] if _passes(v, query.get("filter"))]
        return {"pipeline_versions": listed, "total_size": len(listed)}

    def _list_experiments(self, query: dict[str, str], **_: Any) -> dict[str, Any]:
        namespace = query.get("namespace", "")
        listed = [
            e for e in self.experiments if e["namespace"] == namespace and _passes(e, query.get("filter"))
        ]
        return {"experiments": listed, "total_size": len(listed)}

    def _create_experiment(self, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        experiment_id = self.add_experiment(body.get("namespace", ""), body["display_name"])
        return self.experiments[-1] | {"experiment_id": experiment_id}

    def _create_run(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        experiment_id = query.get("experiment_id") or body.get("experiment_id")
        if experiment_id not in {e["experiment_id"] for e in self.experiments}:
            raise _Refused(404, f"Experiment {experiment_id} not found")
        reference = body.get("pipeline_version_reference") or {}
        known = self.versions.get(reference.get("pipeline_id", ""), [])
        if reference.get("pipeline_version_id") not in {v["pipeline_version_id"] for v in known}:
            raise _Refused(400, f"Invalid pipeline version reference {reference}")
        run = {**body, "run_id": self._id("run"), "state": "PENDING", "storage_state": "AVAILABLE"}
        self.runs.append(run)
        return run


def _passes(obj: dict[str, Any], text: str | None) -> bool:
    """Whether ``obj`` passes a v2beta1 filter of EQUALS predicates on strings."""
    if not text:
        return True
    for predicate in json.loads(text)["predicates"]:
        if predicate["operation"] not in ("EQUALS", 1):
            raise _Refused(400, f"unsupported filter operation {predicate['operation']}")
        if obj.get(predicate["key"]) != predicate.get("stringValue", predicate.get("string_value")):
            return False
    return True


def _handler(fake: FakeKfpApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, answer = fake.handle(
                self.command, self.path, json.loads(data) if data else None, self.headers.get("Authorization")
            )
            body = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextlib.contextmanager
def serving() -> Iterator[FakeKfpApi]:
    """A fake KFP API on a free port of 127.0.0.1 (``url``: ``http://127.0.0.1:PORT``), for the block."""
    fake = FakeKfpApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
