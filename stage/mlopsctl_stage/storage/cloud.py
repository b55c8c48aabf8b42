"""The cloud backend: google-cloud-storage, and google-cloud-bigquery with the Storage Read API.

Credentials are Application Default Credentials (Workload Identity in the cluster). Emulators,
for tests and for local stand-ins of the services: ``STORAGE_EMULATOR_HOST`` (read by
google-cloud-storage itself), ``BIGQUERY_EMULATOR_HOST`` (``http://HOST:PORT`` of a BigQuery REST
API) and ``BIGQUERY_STORAGE_EMULATOR_HOST`` (``HOST:PORT`` of a plaintext gRPC Storage Read API);
with an emulator, requests are anonymous. A table's read session is created in (and billed to) the
project the caller names (``billing``: the step's own), else ``GOOGLE_CLOUD_PROJECT``, else the
table's project: a table of another project is read in a session of the step's own project, which
needs ``bigquery.readsessions.create`` there, not in the table's. Queries run in
``GOOGLE_CLOUD_PROJECT`` when set, otherwise in the project given.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlopsctl_stage.errors import StageError
from mlopsctl_stage.storage.local import json_value

if TYPE_CHECKING:
    import pyarrow as pa

BIGQUERY_EMULATOR = "BIGQUERY_EMULATOR_HOST"
READ_API_EMULATOR = "BIGQUERY_STORAGE_EMULATOR_HOST"
INSERT_BATCH = 500
"""Rows per streaming insert request (BigQuery's recommended batch)."""
DATASET_WORKERS = 8
"""Tables of a dataset whose metadata is fetched at once."""


@contextlib.contextmanager
def _errors(subject: str) -> Iterator[None]:
    """Google API and credential failures as one-line StageErrors about ``subject``."""
    from google.api_core.exceptions import Forbidden, GoogleAPIError, NotFound
    from google.auth.exceptions import GoogleAuthError

    try:
        yield
    except GoogleAuthError as error:
        raise StageError(subject, f"no usable Google credentials: {error}") from None
    except NotFound:
        raise StageError(subject, "not found") from None
    except Forbidden as error:
        raise StageError(subject, f"permission denied: {_brief(error)}") from None
    except GoogleAPIError as error:
        raise StageError(subject, _brief(error)) from None


def _brief(error: Exception) -> str:
    """The first line of an API error's message, without the request it answers, cut to a readable length."""
    text = str(getattr(error, "message", None) or error).strip().splitlines()[0]
    text = re.sub(r"^[A-Z]+ https?://\S+: ", "", text)
    return text if len(text) <= 300 else text[:297] + "..."


@functools.cache
def _storage_client(emulator: str | None) -> Any:
    import google.cloud.storage as storage

    # The client reads STORAGE_EMULATOR_HOST itself (and goes anonymous with it); ``emulator`` keys the cache.
    return storage.Client()


@functools.cache
def _bigquery_client(project: str, emulator: str | None) -> Any:
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    if emulator is None:
        return bigquery.Client(project=project)
    return bigquery.Client(
        project=project,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options=ClientOptions(api_endpoint=emulator),
    )


@functools.cache
def _read_client(emulator: str | None) -> Any:
    from google.cloud.bigquery_storage_v1 import BigQueryReadClient

    if emulator is None:
        return BigQueryReadClient()  # type: ignore[no-untyped-call]
    import grpc  # type: ignore[import-untyped]
    from google.cloud.bigquery_storage_v1.services.big_query_read.transports import BigQueryReadGrpcTransport

    transport = BigQueryReadGrpcTransport(channel=grpc.insecure_channel(emulator))
    return BigQueryReadClient(transport=transport)  # type: ignore[no-untyped-call]


def _billing(project: str, billing: str | None = None) -> str:
    return billing or os.environ.get("GOOGLE_CLOUD_PROJECT") or project


def _bigquery(project: str) -> Any:
    return _bigquery_client(_billing(project), os.environ.get(BIGQUERY_EMULATOR))


def _split(uri: str) -> tuple[str, str]:
    bucket, _, name = uri.removeprefix("gs://").partition("/")
    if not bucket:
        raise StageError(f"address ({uri})", "must be gs://BUCKET/PATH")
    return bucket, name


def _storage() -> Any:
    return _storage_client(os.environ.get("STORAGE_EMULATOR_HOST"))


def _row_restriction(since: tuple[str, datetime] | None) -> str:
    if since is None:
        return ""
    column, time = since
    moment = (time if time.tzinfo else time.replace(tzinfo=UTC)).astimezone(UTC)
    return f"`{column}` >= TIMESTAMP '{moment.isoformat(sep=' ')}'"


def read_table(
    table: str, columns: list[str] | None, since: tuple[str, datetime] | None, billing: str | None = None
) -> pa.Table:
    import pyarrow as pa
    from google.cloud.bigquery_storage_v1 import types

    project, dataset, name = table.split(".")
    requested = types.ReadSession(
        table=f"projects/{project}/datasets/{dataset}/tables/{name}",
        data_format=types.DataFormat.ARROW,
        read_options=types.ReadSession.TableReadOptions(
            selected_fields=columns or [], row_restriction=_row_restriction(since)
        ),
    )
    with _errors(f"table ({table})"):
        client = _read_client(os.environ.get(READ_API_EMULATOR))
        session = client.create_read_session(
            parent=f"projects/{_billing(project, billing)}", read_session=requested, max_stream_count=0
        )
        schema = pa.ipc.read_schema(pa.py_buffer(session.arrow_schema.serialized_schema))
        batches = [
            pa.ipc.read_record_batch(pa.py_buffer(message.arrow_record_batch.serialized_record_batch), schema)
            for stream in session.streams
            for message in client.read_rows(stream.name)
        ]
    found = pa.Table.from_batches(batches, schema=schema)
    return found.select(columns) if columns else found


def query(sql: str, project: str) -> pa.Table:
    with _errors(f"query (in {project})"):
        job = _bigquery(project).query(sql, project=_billing(project))
        return job.to_arrow(bqstorage_client=_read_client(os.environ.get(READ_API_EMULATOR)))


def append_rows(table: str, rows: list[dict[str, Any]], row_ids: list[str] | None) -> None:
    from google.cloud.bigquery.enums import AutoRowIDs

    subject = f"table ({table})"
    try:
        encoded = json.loads(json.dumps(rows, default=json_value))
    except TypeError as error:
        raise StageError(subject, f"a row cannot be written: {error}") from None
    refused: list[tuple[bool, str]] = []
    with _errors(subject):
        client = _bigquery(table.split(".")[0])
        for start in range(0, len(encoded), INSERT_BATCH):
            batch = slice(start, start + INSERT_BATCH)
            ids = AutoRowIDs.GENERATE_UUID if row_ids is None else row_ids[batch]
            for failure in client.insert_rows_json(table, encoded[batch], row_ids=ids):
                errors = failure.get("errors", [])
                why = "; ".join(e.get("message") or e.get("reason", "?") for e in errors)
                # Rows "stopped" only because another row of their request was invalid come last.
                stopped = all(e.get("reason") == "stopped" for e in errors)
                refused.append((stopped, f"row {start + int(failure.get('index', 0))}: {why}"))
    if refused:
        texts = [text for _, text in sorted(refused, key=lambda r: r[0])]
        shown = ", ".join(texts[:3]) + (f" and {len(texts) - 3} more" if len(texts) > 3 else "")
        raise StageError(subject, f"{len(texts)} of {len(rows)} rows refused: {shown}")


def table_modified(table: str) -> datetime | None:
    from google.api_core.exceptions import NotFound

    with _errors(f"table ({table})"):
        try:
            modified: datetime | None = _bigquery(table.split(".")[0]).get_table(table).modified
        except NotFound:
            return None
    return modified


def dataset_modified(dataset: str) -> datetime | None:
    """The newest ``modified`` of the dataset's tables: tables.list does not carry it, so each table
    is fetched (tables.get, a few at a time). A metadata query (``__TABLES__``) would be one call,
    but it is a query job, which ``roles/bigquery.metadataViewer`` (all the poller holds) cannot run."""
    from google.api_core.exceptions import NotFound

    def modified(item: Any) -> datetime | None:
        try:
            found: datetime | None = client.get_table(item.reference).modified
        except NotFound:  # deleted since it was listed
            return None
        return found

    with _errors(f"dataset ({dataset})"):
        client = _bigquery(dataset.split(".")[0])
        try:
            tables = [item for item in client.list_tables(dataset) if item.table_type != "VIEW"]
        except NotFound:
            return None
        with ThreadPoolExecutor(max_workers=DATASET_WORKERS) as pool:
            return max(filter(None, pool.map(modified, tables)), default=None)


def _blobs(uri: str) -> Iterator[tuple[str, Any]]:
    """(path relative to the folder ``uri``, blob) of the objects under it, or of the object itself."""
    bucket, name = _split(uri)
    folder = name.rstrip("/") + "/" if name.rstrip("/") else ""
    with _errors(f"objects ({uri})"):
        for blob in _storage().list_blobs(bucket, prefix=name.rstrip("/")):
            if blob.name == name:
                yield "", blob
            elif blob.name.startswith(folder) and not blob.name.endswith("/"):
                yield blob.name.removeprefix(folder), blob


def list_objects(uri: str) -> list[tuple[str, int, datetime]]:
    bucket, _ = _split(uri)
    return [(f"gs://{bucket}/{blob.name}", int(blob.size or 0), blob.updated) for _, blob in _blobs(uri)]


def read_bytes(uri: str) -> bytes:
    bucket, name = _split(uri)
    with _errors(f"object ({uri})"):
        data: bytes = _storage().bucket(bucket).blob(name).download_as_bytes()
    return data


def write_bytes(uri: str, data: bytes) -> None:
    bucket, name = _split(uri)
    with _errors(f"object ({uri})"):
        _storage().bucket(bucket).blob(name).upload_from_string(data)


def exists(uri: str) -> bool:
    bucket, name = _split(uri)
    with _errors(f"object ({uri})"):
        if name and not name.endswith("/") and _storage().bucket(bucket).blob(name).exists():
            return True
    return next(_blobs(uri), None) is not None


def upload_dir(local_dir: Path, uri: str) -> None:
    bucket, name = _split(uri)
    folder = name.rstrip("/") + "/" if name.rstrip("/") else ""
    for file in sorted(p for p in local_dir.rglob("*") if p.is_file()):
        key = folder + file.relative_to(local_dir).as_posix()
        with _errors(f"object (gs://{bucket}/{key})"):
            _storage().bucket(bucket).blob(key).upload_from_filename(str(file))


def download_dir(uri: str, local_dir: Path) -> None:
    found = list(_blobs(uri))
    if not found:
        raise StageError(f"folder ({uri})", "not found")
    for relative, blob in found:
        target = local_dir / (relative or Path(blob.name).name)
        target.parent.mkdir(parents=True, exist_ok=True)
        with _errors(f"object (gs://{blob.bucket.name}/{blob.name})"):
            blob.download_to_filename(str(target))
