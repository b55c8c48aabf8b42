"""A fake Kubeflow Pipelines v2beta1 REST API on 127.0.0.1: just the calls run starters make.

It serves pipelines by name, their versions (with the ``name`` filter), experiments (listed by
namespace and ``display_name`` filter, created), and runs (listed newest first, created). Every
request is recorded with its ``Authorization`` header; a test may queue error answers.
:func:`serve_json` serves any fake JSON API this way.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

PREFIX = "/apis/v2beta1"


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    authorization: str | None


@dataclass
class FakeKfp:
    """The server's state; ``url`` is set once it listens."""

    pipelines: dict[str, dict[str, Any]] = field(default_factory=dict)
    versions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    experiments: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    failures: list[tuple[int, str]] = field(default_factory=list)
    """(status, message) answered to the next requests, in order."""
    url: str = ""
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def add_pipeline(self, name: str, namespace: str, versions: list[str]) -> None:
        pipeline_id = f"pipeline-{next(self._ids)}"
        self.pipelines[name] = {
            "pipeline_id": pipeline_id,
            "name": name,
            "display_name": name,
            "namespace": namespace,
        }
        self.versions[pipeline_id] = [
            {
                "pipeline_id": pipeline_id,
                "pipeline_version_id": f"version-{next(self._ids)}",
                "name": version,
                "display_name": version,
            }
            for version in versions
        ]

    def add_experiment(self, name: str, namespace: str) -> str:
        experiment_id = f"experiment-{next(self._ids)}"
        self.experiments.append(
            {"experiment_id": experiment_id, "display_name": name, "namespace": namespace}
        )
        return experiment_id

    def add_run(self, experiment_id: str, created_at: datetime) -> None:
        self.runs.append(
            {
                "run_id": f"run-{next(self._ids)}",
                "experiment_id": experiment_id,
                "created_at": _time(created_at),
            }
        )

    def created_runs(self) -> list[dict[str, Any]]:
        return [c.body for c in self.calls if c.method == "POST" and c.path == f"{PREFIX}/runs"]

    def request(
        self, method: str, path: str, query: dict[str, str], headers: Message, data: bytes
    ) -> tuple[int, Any]:
        """Records the request, then answers it."""
        body = json.loads(data) if data else None
        self.calls.append(Call(method, path, query, body, headers.get("Authorization")))
        return self.answer(method, path, query, body)

    def answer(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        if self.failures:
            status, message = self.failures.pop(0)
            return status, {"code": 13, "message": message}
        parts = path.removeprefix(PREFIX).strip("/").split("/")
        if parts[:2] == ["pipelines", "names"] and method == "GET":
            found = self.pipelines.get(unquote(parts[2]))
            if found is None or found["namespace"] != query.get("namespace", ""):
                return 404, {"code": 5, "message": f"Pipeline {parts[2]} not found"}
            return 200, found
        if parts[0] == "pipelines" and parts[2:] == ["versions"] and method == "GET":
            listed = [v for v in self.versions.get(parts[1], []) if _matches(v, query.get("filter"))]
            return 200, {"pipeline_versions": listed, "total_size": len(listed)}
        if parts == ["experiments"] and method == "GET":
            namespace = query.get("namespace", "")
            listed = [
                e
                for e in self.experiments
                if e["namespace"] == namespace and _matches(e, query.get("filter"))
            ]
            return 200, {"experiments": listed, "total_size": len(listed)}
        if parts == ["experiments"] and method == "POST":
            experiment_id = self.add_experiment(body["display_name"], body.get("namespace", ""))
            return 200, self.experiments[-1] | {"experiment_id": experiment_id}
        if parts == ["runs"] and method == "GET":
            listed = [r for r in self.runs if r["experiment_id"] == query.get("experiment_id")]
            listed.sort(key=lambda r: r["created_at"], reverse=query.get("sort_by", "").endswith(" desc"))
            return 200, {"runs": listed[: int(query.get("page_size") or len(listed) or 1)]}
        if parts == ["runs"] and method == "POST":
            run = {**body, "run_id": f"run-{next(self._ids)}", "created_at": _time(datetime.now(UTC))}
            self.runs.append(run)
            return 200, run
        return 404, {"code": 5, "message": f"no route {method} {path}"}


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _matches(obj: dict[str, Any], text: str | None) -> bool:
    """Whether ``obj`` passes a v2beta1 filter of EQUALS predicates on string fields."""
    if not text:
        return True
    for predicate in json.loads(text)["predicates"]:
        assert predicate["operation"] in ("EQUALS", 1), predicate
        if obj.get(predicate["key"]) != predicate.get("stringValue", predicate.get("string_value")):
            return False
    return True


Answer = Callable[[str, str, dict[str, str], Message, bytes], tuple[int, Any]]
"""Answers a request from (method, path, query, headers, raw body) with (status, JSON value)."""


@contextmanager
def serve_json(answer: Answer) -> Iterator[str]:
    """A JSON API on 127.0.0.1 that ``answer`` answers (GET, POST, PATCH): yields ``host:port``."""

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            split = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(split.query).items()}
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, result = answer(self.command, split.path, query, self.headers, body)
            data = json.dumps(result).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = _serve

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def serve() -> Iterator[FakeKfp]:
    """A running fake (for a fixture): yields it with ``url`` set, stops it afterwards."""
    fake = FakeKfp()
    with serve_json(fake.request) as address:
        fake.url = address
        yield fake
