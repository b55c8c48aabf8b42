"""A fake of Vertex AI's PipelineService (REST v1) on 127.0.0.1: what ``start-run`` with ``backend:
vertex`` calls. Creating a PipelineJob records its body; listing finds none (no run yet)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class FakePipelines:
    url: str = ""
    created: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)
    """Each created PipelineJob: (path, query, body)."""
    listed: list[str] = field(default_factory=list)
    """The path of each list request."""


@contextmanager
def serve() -> Iterator[FakePipelines]:
    fake = FakePipelines()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            fake.listed.append(urlsplit(self.path).path)
            self._answer({"pipelineJobs": []})

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            fake.created.append((parts.path, query, body))
            name = f"{parts.path.removeprefix('/v1/')}/{query.get('pipelineJobId', 'job')}"
            self._answer({**body, "name": name})

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
