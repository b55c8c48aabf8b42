"""A fake of the Cloud Storage JSON API on 127.0.0.1, for the real google-cloud-storage client.

It serves what the stage runtime's storage layer calls: listing objects (with pages), object
metadata, media downloads (with an ``x-goog-hash`` the client checks) and multipart uploads. Objects
live in ``FakeGcs.objects``; point a client at it with ``STORAGE_EMULATOR_HOST=fake.url``.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

PAGE_SIZE = 2
"""Small, so that listing goes through more than one page."""


@dataclass
class FakeGcs:
    url: str = ""
    objects: dict[tuple[str, str], tuple[bytes, datetime]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    uploads: list[str] = field(default_factory=list)
    """Names of the objects uploaded, in order."""

    def put(self, bucket: str, name: str, data: bytes) -> None:
        self.objects[bucket, name] = (data, datetime.now(UTC))

    def resource(self, bucket: str, name: str) -> dict[str, Any]:
        data, updated = self.objects[bucket, name]
        return {
            "kind": "storage#object",
            "bucket": bucket,
            "name": name,
            "id": f"{bucket}/{name}/1",
            "generation": "1",
            "size": str(len(data)),
            "md5Hash": base64.b64encode(hashlib.md5(data).digest()).decode(),
            "updated": updated.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }


class _Handler(BaseHTTPRequestHandler):
    fake: FakeGcs

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, value: Any) -> None:
        self._send(status, json.dumps(value).encode())

    def _missing(self, bucket: str, name: str) -> None:
        self._json(404, {"error": {"code": 404, "message": f"No such object: {bucket}/{name}"}})

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.fake.requests.append(f"GET {url.path}")
        parts = url.path.split("/")
        # /storage/v1/b/B/o, /storage/v1/b/B/o/NAME, /download/storage/v1/b/B/o/NAME
        download = parts[1] == "download"
        offset = 2 if download else 1
        bucket = unquote(parts[offset + 3])
        if len(parts) == offset + 4:  # the client fetches a bucket's metadata in the background
            return self._json(200, {"kind": "storage#bucket", "name": bucket, "location": "US"})
        if len(parts) == offset + 5:
            return self._list(bucket, query)
        name = unquote(parts[offset + 5])
        if (bucket, name) not in self.fake.objects:
            return self._missing(bucket, name)
        if download or query.get("alt") == "media":
            data = self.fake.objects[bucket, name][0]
            md5 = self.fake.resource(bucket, name)["md5Hash"]
            return self._send(
                200, data, {"Content-Type": "application/octet-stream", "x-goog-hash": f"md5={md5}"}
            )
        self._json(200, self.fake.resource(bucket, name))

    def _list(self, bucket: str, query: dict[str, str]) -> None:
        prefix = query.get("prefix", "")
        names = sorted(n for b, n in self.fake.objects if b == bucket and n.startswith(prefix))
        start = int(query.get("pageToken", "0"))
        page: dict[str, Any] = {
            "kind": "storage#objects",
            "items": [self.fake.resource(bucket, n) for n in names[start : start + PAGE_SIZE]],
        }
        if start + PAGE_SIZE < len(names):
            page["nextPageToken"] = str(start + PAGE_SIZE)
        self._json(200, page)

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.fake.requests.append(f"POST {url.path}")
        bucket = unquote(url.path.split("/")[5])
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if query.get("uploadType") != "multipart":
            return self._json(400, {"error": {"code": 400, "message": "only multipart uploads"}})
        header = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(header + body)
        metadata, media = (bytes(part.get_payload(decode=True)) for part in message.iter_parts())
        name = json.loads(metadata)["name"]
        self.fake.uploads.append(name)
        self.fake.put(bucket, name, media)
        self._json(200, self.fake.resource(bucket, name))


@contextmanager
def serve() -> Iterator[FakeGcs]:
    fake = FakeGcs()
    handler = type("Handler", (_Handler,), {"fake": fake})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
