"""The one layer every stage reads and writes data through (docs/stages.md, "Storage").

Addresses:

- ``gs://BUCKET/PATH``: Cloud Storage, or ``$ROOT/gcs/BUCKET/PATH`` in local mode;
- ``PROJECT.DATASET.TABLE`` (``bq://`` optional): BigQuery, or ``$ROOT/bigquery/PROJECT.DATASET.TABLE``
  ``.parquet``, ``.jsonl`` or ``.csv`` (the first that exists) in local mode; ``PROJECT.DATASET``
  names the tables ``PROJECT.DATASET.*``;
- any other path: the file system, in both modes.

Local mode is on when ``MLOPSCTL_STAGE_LOCAL`` names a settings file (written by ``mlopsctl run
--local``). A prefix (``list_objects``, ``read_files``, ``download_dir``) is a folder: the objects
under it, or the one object it names.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlopsctl_stage.errors import StageError
from mlopsctl_stage.storage import cloud, combine, local
from mlopsctl_stage.storage.formats import EmptyFile, normalize, parse, skipped

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "LOCAL_ENV",
    "LocalSettings",
    "ObjectInfo",
    "append_rows",
    "dataset_modified",
    "download_dir",
    "exists",
    "list_objects",
    "local_place",
    "local_settings",
    "query",
    "read_bytes",
    "read_files",
    "read_table",
    "table_modified",
    "upload_dir",
    "write_bytes",
]

LOCAL_ENV = "MLOPSCTL_STAGE_LOCAL"


@dataclass(frozen=True)
class LocalSettings:
    """The settings of a local run (docs/stages.md)."""

    root: Path
    """``$ROOT``: ``gcs/`` and ``bigquery/`` stand-ins live under it."""
    code: dict[str, Path]
    """Image → the folder it is built from, for launchers that run user commands as local processes."""
    trials: int | None
    endpoints: dict[str, str]
    """Cluster URL → local URL."""
    now: datetime | None
    """The time a local run pretends it is (UTC), or None for the clock."""


@dataclass(frozen=True)
class ObjectInfo:
    uri: str
    size: int
    updated: datetime


def local_settings() -> LocalSettings | None:
    """The local run's settings, or None (cloud mode) when ``MLOPSCTL_STAGE_LOCAL`` is unset."""
    name = os.environ.get(LOCAL_ENV)
    if not name:
        return None
    subject = f"local settings ({LOCAL_ENV}={name})"
    try:
        raw = json.loads(Path(name).read_text())
        if not isinstance(raw, dict) or not isinstance(raw.get("root"), str):
            raise ValueError('not a JSON object with a "root" folder')
        base = Path(name).parent
        now = raw.get("now")
        when = None if now is None else datetime.fromisoformat(now)
        return LocalSettings(
            root=base / raw["root"],
            code={image: base / folder for image, folder in (raw.get("code") or {}).items()},
            trials=None if raw.get("trials") is None else int(raw["trials"]),
            endpoints={str(k): str(v) for k, v in (raw.get("endpoints") or {}).items()},
            now=None if when is None else when.replace(tzinfo=when.tzinfo or UTC),
        )
    except (OSError, ValueError, TypeError, AttributeError) as error:
        raise StageError(subject, f"unreadable: {error}") from None


def _root() -> Path | None:
    settings = local_settings()
    return None if settings is None else settings.root


def _table_id(table: str) -> str:
    found = table.removeprefix("bq://")
    if len(found.split(".")) != 3 or not all(found.split(".")):
        raise StageError(f"table ({table})", "must be PROJECT.DATASET.TABLE")
    return found


def _dataset_id(dataset: str) -> str:
    found = dataset.removeprefix("bq://")
    if len(found.split(".")) != 2 or not all(found.split(".")):
        raise StageError(f"dataset ({dataset})", "must be PROJECT.DATASET")
    return found


def _local_path(uri: str) -> str | None:
    """The file-system path of ``uri`` (kept as a string: a trailing ``/`` matters), or None for GCS."""
    if uri.startswith("gs://"):
        root = _root()
        return None if root is None else f"{root}/gcs/{uri.removeprefix('gs://')}"
    if "://" in uri and not uri.startswith("file://"):
        raise StageError(f"address ({uri})", "only gs:// URIs and local paths are storage addresses")
    return uri.removeprefix("file://")


def local_place(address: str) -> str | None:
    """Where a local run keeps ``address``: the folder (or file) of a ``gs://`` URI, the files of a
    table (``$ROOT/bigquery/TABLE.jsonl|csv|parquet``), the stand-in for what an ``https://`` URL
    serves (``$ROOT/https/<sha256 of the URL>``: a name no URL can lead out of the root, and one per
    URL, query included); None in cloud mode or for a local path."""
    root = _root()
    if root is None or not address.startswith(("gs://", "bq://", "https://", "http://")):
        return None
    if address.startswith(("https://", "http://")):
        return f"{root}/https/{hashlib.sha256(address.encode()).hexdigest()}"
    if address.startswith("gs://"):
        return _local_path(address)
    table = _table_id(address)
    return f"{root}/bigquery/{table}.{'|'.join(e.lstrip('.') for e in local.TABLE_EXTENSIONS)}"


def read_table(
    table: str,
    *,
    columns: list[str] | None = None,
    since: tuple[str, datetime] | None = None,
    billing: str | None = None,
) -> pa.Table:
    """A BigQuery table (through the Storage Read API) as Arrow; with ``since=(COLUMN, TIME)``, only
    the rows whose COLUMN (a TIMESTAMP) is at or after TIME. JSON columns come back as strings.
    ``billing``: the project the read session is created in (the step's own; the table may be in
    another), default ``GOOGLE_CLOUD_PROJECT``, else the table's project."""
    root, found = _root(), _table_id(table)
    if root is not None:
        return local.read_table(root, found, columns, since)
    return cloud.read_table(found, columns, since, billing)


def query(sql: str, project: str) -> pa.Table:
    """The result of a BigQuery query, run (and billed) in ``project``."""
    if _root() is not None:
        raise StageError(
            "query",
            "a BigQuery query cannot run locally; read a table instead (source.bigquery.table, "
            "from $ROOT/bigquery/PROJECT.DATASET.TABLE.parquet|jsonl|csv) or run in the cluster",
        )
    return cloud.query(sql, project)


def append_rows(table: str, rows: list[dict[str, Any]], *, row_ids: list[str] | None = None) -> None:
    """Append ``rows`` to a table (BigQuery's streaming inserts). JSON columns take JSON text.

    ``row_ids``, one per row, are the rows' insert ids: BigQuery drops (best effort, for at least a
    minute) a row whose id it has just seen, so a retried append does not write it twice. Without
    them, each call gets random ids, which only cover the client's own retries of one request.
    The local backend ignores them."""
    root, found = _root(), _table_id(table)
    if row_ids is not None and len(row_ids) != len(rows):
        raise ValueError(f"{len(row_ids)} row ids for {len(rows)} rows")
    if not rows:
        return
    if root is not None:
        local.append_rows(root, found, rows)
    else:
        cloud.append_rows(found, rows, row_ids)


def table_modified(table: str) -> datetime | None:
    """When a table last changed, or None if it does not exist."""
    root, found = _root(), _table_id(table)
    return local.table_modified(root, found) if root is not None else cloud.table_modified(found)


def dataset_modified(dataset: str) -> datetime | None:
    """When a table of the dataset ``PROJECT.DATASET`` last changed, or None if it has no tables (or
    does not exist). Views are not counted: they hold no data of their own."""
    root, found = _root(), _dataset_id(dataset)
    return local.dataset_modified(root, found) if root is not None else cloud.dataset_modified(found)


def list_objects(prefix_uri: str) -> list[ObjectInfo]:
    """The objects under a folder (or the one object) ``prefix_uri`` names, sorted by URI; addressed as
    ``prefix_uri`` is (``gs://`` stays ``gs://`` in local mode)."""
    path = _local_path(prefix_uri)
    found = cloud.list_objects(prefix_uri) if path is None else local.list_objects(prefix_uri, path)
    return sorted((ObjectInfo(uri, size, updated) for uri, size, updated in found), key=lambda o: o.uri)


def read_bytes(uri: str) -> bytes:
    path = _local_path(uri)
    return cloud.read_bytes(uri) if path is None else local.read_bytes(path)


def write_bytes(uri: str, data: bytes) -> None:
    """Write one object; on the file system, atomically (a temporary sibling renamed into place)."""
    path = _local_path(uri)
    if path is None:
        cloud.write_bytes(uri, data)
    else:
        local.write_bytes(path, data)


def exists(uri: str) -> bool:
    """Whether ``uri`` is an object, or a folder holding at least one."""
    path = _local_path(uri)
    return cloud.exists(uri) if path is None else local.exists(path)


def read_files(prefix_uri: str, format: str | None = None) -> pa.Table:
    """The data files under ``prefix_uri`` as one table: ``csv``, ``parquet``, ``jsonl`` or ``avro``
    (each file's by its extension when ``format`` is None; ``.gz`` is decompressed). Files named
    ``_*`` or ``.*`` (``_SUCCESS``, temporary files) and empty files (an export's empty shards) are
    skipped; all files empty fails. Columns some files lack are null in
    their rows, with a warning on stderr; types that cannot be unified fail (:mod:`.combine`)."""
    named = normalize(format) if format else None
    uris = [o.uri for o in list_objects(prefix_uri) if not skipped(o.uri)]
    if not uris:
        raise StageError(f"files ({prefix_uri})", "no data files there")
    tables: list[tuple[str, pa.Table]] = []
    for uri in uris:
        try:
            tables.append((uri, parse(read_bytes(uri), uri, named)))
        except EmptyFile:  # an export's empty shard
            continue
    if not tables:
        raise StageError(f"files ({prefix_uri})", "every data file there is empty: no rows and no columns")
    return combine.concat(tables, f"files ({prefix_uri})")


def upload_dir(local_dir: Path, uri: str) -> None:
    """Copy every file under ``local_dir`` to the folder ``uri``, keeping relative paths."""
    if not Path(local_dir).is_dir():
        raise StageError(f"folder ({local_dir})", "not a folder")
    path = _local_path(uri)
    if path is None:
        cloud.upload_dir(Path(local_dir), uri)
    else:
        local.upload_dir(Path(local_dir), path)


def download_dir(uri: str, local_dir: Path) -> None:
    """Copy every object under the folder ``uri`` into ``local_dir``, keeping relative paths."""
    path = _local_path(uri)
    if path is None:
        cloud.download_dir(uri, Path(local_dir))
    else:
        local.download_dir(uri, path, Path(local_dir))
