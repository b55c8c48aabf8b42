"""Fakes of BigQuery on 127.0.0.1, for the real google-cloud-bigquery and -bigquery-storage clients.

- The REST API (``BIGQUERY_EMULATOR_HOST=fake.url``): table metadata, a dataset's tables (listed
  in pages of two, without their modification times, as BigQuery lists them), streaming inserts
  (a row with a field the table lacks is refused, as BigQuery does; insert ids are recorded) and
  queries whose results a test registers in ``results``.
- The Storage Read API over plaintext gRPC (``BIGQUERY_STORAGE_EMULATOR_HOST=fake.read_target``):
  read sessions with selected fields and a ``column >= TIMESTAMP '...'`` row restriction, served as
  Arrow record batches over two streams, so that a reader has to join them.

Tables are Arrow tables in ``FakeBigQuery.tables``, keyed ``project.dataset.table``.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NoReturn
from urllib.parse import parse_qs, urlsplit

import grpc  # type: ignore[import-untyped]
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from google.cloud.bigquery_storage_v1 import types

from mlopsctl_stage import storage

READ_SERVICE = "google.cloud.bigquery.storage.v1.BigQueryRead"
PAGE_SIZE = 2
"""Small, so that listing a dataset's tables goes through more than one page."""
_RESTRICTION = re.compile(r"^`(\w+)` >= TIMESTAMP '([^']+)'$")
_BQ_TYPES = {
    pa.int64(): "INTEGER",
    pa.float64(): "FLOAT",
    pa.string(): "STRING",
    pa.bool_(): "BOOLEAN",
    pa.timestamp("us", tz="UTC"): "TIMESTAMP",
}


@dataclass
class FakeBigQuery:
    url: str = ""
    read_target: str = ""
    tables: dict[str, pa.Table] = field(default_factory=dict)
    modified: dict[str, datetime] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    """Table → its type: ``TABLE`` or ``VIEW``."""
    datasets: set[str] = field(default_factory=set)
    """``project.dataset`` of the datasets that exist (those of ``put`` tables, and empty ones)."""
    vanished: set[str] = field(default_factory=set)
    """Tables still listed, but deleted by the time they are fetched."""
    fetched: list[str] = field(default_factory=list)
    """The tables whose metadata was asked for, in order."""
    results: dict[str, pa.Table] = field(default_factory=dict)
    """SQL → the result of that query."""
    sessions: list[types.ReadSession] = field(default_factory=list)
    """The read sessions asked for, as sent."""
    parents: list[str] = field(default_factory=list)
    inserted: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    insert_ids: dict[str, list[str | None]] = field(default_factory=dict)
    """Table → the ``insertId`` of each row sent to it, accepted or not."""
    jobs: dict[str, str] = field(default_factory=dict)
    """Job id → its SQL."""
    streams: dict[str, pa.Table] = field(default_factory=dict)

    def put(self, table: str, data: pa.Table, modified: datetime | None = None, kind: str = "TABLE") -> None:
        self.tables[table] = data
        self.modified[table] = modified or datetime.now(UTC)
        self.kinds[table] = kind
        self.datasets.add(table.rpartition(".")[0])

    # -- Storage Read API --------------------------------------------------------------------------

    def create_read_session(
        self, request: types.CreateReadSessionRequest, context: grpc.ServicerContext
    ) -> Any:
        asked = request.read_session
        self.sessions.append(asked)
        self.parents.append(request.parent)
        _, project, _, dataset, _, name = asked.table.split("/")
        table = self.tables.get(f"{project}.{dataset}.{name}")
        if table is None:
            _abort(context, grpc.StatusCode.NOT_FOUND, f"Not found: Table {project}:{dataset}.{name}")
        options = asked.read_options
        if options.row_restriction:
            match = _RESTRICTION.match(options.row_restriction)
            if match is None:
                _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"unsupported: {options.row_restriction}")
            bound = pa.scalar(datetime.fromisoformat(match[2]), pa.timestamp("us", tz="UTC"))
            table = table.filter(pc.greater_equal(table.column(match[1]), bound))
        if options.selected_fields:
            table = table.select(list(options.selected_fields))
        session_id = f"projects/{project}/locations/us/sessions/{uuid.uuid4().hex}"
        halves = [table.slice(0, table.num_rows // 2), table.slice(table.num_rows // 2)]
        names = [f"{session_id}/streams/{i}" for i, part in enumerate(halves) if part.num_rows]
        self.streams.update(zip(names, [part for part in halves if part.num_rows], strict=True))
        return types.ReadSession(
            name=session_id,
            table=asked.table,
            data_format=types.DataFormat.ARROW,
            arrow_schema=types.ArrowSchema(serialized_schema=table.schema.serialize().to_pybytes()),
            streams=[types.ReadStream(name=name) for name in names],
        )

    def read_rows(self, request: types.ReadRowsRequest, context: grpc.ServicerContext) -> Iterator[Any]:
        table = self.streams[request.read_stream]
        for batch in table.to_batches(max_chunksize=2):
            yield types.ReadRowsResponse(
                arrow_record_batch=types.ArrowRecordBatch(
                    serialized_record_batch=batch.serialize().to_pybytes(), row_count=batch.num_rows
                ),
                row_count=batch.num_rows,
            )

    # -- REST API ----------------------------------------------------------------------------------

    def table_resource(self, table: str) -> dict[str, Any]:
        project, dataset, name = table.split(".")
        return {
            "kind": "bigquery#table",
            "id": f"{project}:{dataset}.{name}",
            "tableReference": {"projectId": project, "datasetId": dataset, "tableId": name},
            "schema": schema_resource(self.tables[table].schema),
            "numRows": str(self.tables[table].num_rows),
            "lastModifiedTime": str(int(self.modified[table].timestamp() * 1000)),
            "type": self.kinds[table],
        }

    def list_resource(self, dataset: str, token: str | None) -> dict[str, Any]:
        """One page of tables.list: no schema, no lastModifiedTime."""
        names = sorted(t for t in self.tables if t.rpartition(".")[0] == dataset)
        start = int(token or 0)
        page: dict[str, Any] = {"kind": "bigquery#tableList", "totalItems": len(names), "tables": []}
        for table in names[start : start + PAGE_SIZE]:
            listed = self.table_resource(table)
            page["tables"].append({k: listed[k] for k in ("kind", "id", "tableReference", "type")})
        if start + PAGE_SIZE < len(names):
            page["nextPageToken"] = str(start + PAGE_SIZE)
        return page

    def insert(self, table: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Insert all the rows, or (as BigQuery does) none when one is invalid: the others are "stopped"."""
        self.insert_ids.setdefault(table, []).extend(row.get("insertId") for row in rows)
        known = set(self.tables[table].column_names)
        unknown = {i: sorted(set(row["json"]) - known) for i, row in enumerate(rows)}
        if not any(unknown.values()):
            self.inserted.setdefault(table, []).extend(row["json"] for row in rows)
            return []
        return [
            {"index": i, "errors": [{"reason": "invalid", "message": f"no such field: {fields[0]}."}]}
            if fields
            else {"index": i, "errors": [{"reason": "stopped", "message": ""}]}
            for i, fields in unknown.items()
        ]


def _abort(context: grpc.ServicerContext, code: grpc.StatusCode, message: str) -> NoReturn:
    context.abort(code, message)  # raises, to end the call with that status
    raise AssertionError("unreachable")


def schema_resource(schema: pa.Schema) -> dict[str, Any]:
    return {"fields": [{"name": f.name, "type": _BQ_TYPES[f.type], "mode": "NULLABLE"} for f in schema]}


def _rows_resource(table: pa.Table) -> list[dict[str, Any]]:
    return [{"f": [{"v": None if v is None else str(v)} for v in row.values()]} for row in table.to_pylist()]


class _Handler(BaseHTTPRequestHandler):
    fake: FakeBigQuery

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _json(self, status: int, value: Any) -> None:
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, reason: str, message: str) -> None:
        error = {"code": status, "message": message, "errors": [{"reason": reason, "message": message}]}
        self._json(status, {"error": error})

    def _parts(self) -> list[str]:
        return urlsplit(self.path).path.removeprefix("/bigquery/v2/").split("/")

    def do_GET(self) -> None:
        parts = self._parts()
        if len(parts) == 6 and parts[2] == "datasets" and parts[4] == "tables":
            table = f"{parts[1]}.{parts[3]}.{parts[5]}"
            self.fake.fetched.append(table)
            if table not in self.fake.tables or table in self.fake.vanished:
                return self._error(404, "notFound", f"Not found: Table {parts[1]}:{parts[3]}.{parts[5]}")
            return self._json(200, self.fake.table_resource(table))
        if len(parts) == 5 and parts[2] == "datasets" and parts[4] == "tables":
            if f"{parts[1]}.{parts[3]}" not in self.fake.datasets:
                return self._error(404, "notFound", f"Not found: Dataset {parts[1]}:{parts[3]}")
            token = parse_qs(urlsplit(self.path).query).get("pageToken", [None])[0]
            return self._json(200, self.fake.list_resource(f"{parts[1]}.{parts[3]}", token))
        if len(parts) == 4 and parts[2] in ("queries", "jobs"):
            return self._job(parts[1], parts[3], results=parts[2] == "queries")
        self._error(404, "notFound", f"no such resource: {self.path}")

    def _job(self, project: str, job_id: str, *, results: bool) -> None:
        reference = {"projectId": project, "jobId": job_id, "location": "US"}
        result = self.fake.results[self.fake.jobs[job_id]]
        if not results:
            sql = self.fake.jobs[job_id]
            configuration = {"query": {"query": sql, "useLegacySql": False}, "jobType": "QUERY"}
            return self._json(
                200,
                {"jobReference": reference, "status": {"state": "DONE"}, "configuration": configuration},
            )
        self._json(
            200,
            {
                "kind": "bigquery#getQueryResultsResponse",
                "jobReference": reference,
                "jobComplete": True,
                "schema": schema_resource(result.schema),
                "totalRows": str(result.num_rows),
                "rows": _rows_resource(result),
            },
        )

    def do_POST(self) -> None:
        parts = self._parts()
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
        if len(parts) == 7 and parts[6] == "insertAll":
            table = f"{parts[1]}.{parts[3]}.{parts[5]}"
            if table not in self.fake.tables:
                return self._error(404, "notFound", f"Not found: Table {parts[1]}:{parts[3]}.{parts[5]}")
            return self._json(200, {"insertErrors": self.fake.insert(table, body["rows"])})
        if len(parts) == 3 and parts[2] == "jobs":
            sql = body["configuration"]["query"]["query"]
            if sql not in self.fake.results:
                return self._error(400, "invalidQuery", f"Syntax error: Unexpected query {sql!r}")
            job_id = body["jobReference"]["jobId"]
            self.fake.jobs[job_id] = sql
            return self._job(parts[1], job_id, results=False)
        self._error(404, "notFound", f"no such resource: {self.path}")


@contextmanager
def serve() -> Iterator[FakeBigQuery]:
    fake = FakeBigQuery()
    handler = type("Handler", (_Handler,), {"fake": fake})
    http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    fake.url = f"http://127.0.0.1:{http.server_address[1]}"
    threading.Thread(target=http.serve_forever, args=(0.05,), daemon=True).start()
    rpc = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    methods = {
        "CreateReadSession": grpc.unary_unary_rpc_method_handler(
            fake.create_read_session,
            request_deserializer=types.CreateReadSessionRequest.deserialize,
            response_serializer=types.ReadSession.serialize,
        ),
        "ReadRows": grpc.unary_stream_rpc_method_handler(
            fake.read_rows,
            request_deserializer=types.ReadRowsRequest.deserialize,
            response_serializer=types.ReadRowsResponse.serialize,
        ),
    }
    rpc.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(READ_SERVICE, methods)])
    fake.read_target = f"127.0.0.1:{rpc.add_insecure_port('127.0.0.1:0')}"
    rpc.start()
    try:
        yield fake
    finally:
        rpc.stop(grace=None)
        http.shutdown()
        http.server_close()


@contextmanager
def emulated(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBigQuery]:
    """A fake BigQuery that the stage's own clients reach through their emulator variables, in cloud
    mode (no local data root) and with no GOOGLE_CLOUD_PROJECT from the environment."""
    monkeypatch.delenv(storage.LOCAL_ENV, raising=False)
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    with serve() as fake:
        monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", fake.url)
        monkeypatch.setenv("BIGQUERY_STORAGE_EMULATOR_HOST", fake.read_target)
        yield fake
