"""The file-system backend: local paths in both modes, and the local run's stand-ins for GCS and BigQuery.

A table ``P.D.T`` is ``$ROOT/bigquery/P.D.T.parquet``, ``.jsonl`` or ``.csv``, the first that exists;
appends go to ``.jsonl``. The dataset ``P.D`` is the tables ``P.D.*``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlopsctl_stage.artifacts import write_file
from mlopsctl_stage.errors import StageError
from mlopsctl_stage.storage.formats import parse
from mlopsctl_stage.storage.formats import since as since_filter

if TYPE_CHECKING:
    import pyarrow as pa

TABLE_EXTENSIONS = (".parquet", ".jsonl", ".csv")


def _table_files(root: Path, table: str) -> list[Path]:
    return [root / "bigquery" / f"{table}{extension}" for extension in TABLE_EXTENSIONS]


def _table_file(root: Path, table: str) -> Path | None:
    return next((path for path in _table_files(root, table) if path.is_file()), None)


def read_table(
    root: Path, table: str, columns: list[str] | None, since: tuple[str, datetime] | None
) -> pa.Table:
    subject = f"table ({table})"
    path = _table_file(root, table)
    if path is None:
        tried = ", ".join(str(p) for p in _table_files(root, table))
        raise StageError(subject, f"not found locally: none of {tried} exists")
    found = parse(read_bytes(str(path)), str(path))
    if since is not None:
        found = since_filter(found, since[0], since[1], subject)
    if columns is None:
        return found
    missing = [c for c in columns if c not in found.column_names]
    if missing:
        raise StageError(subject, f"has no column {', '.join(map(repr, missing))} ({path})")
    return found.select(columns)


def json_value(value: Any) -> Any:
    """What JSON cannot hold natively, as BigQuery's streaming inserts take it."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not a table value")


def append_rows(root: Path, table: str, rows: list[dict[str, Any]]) -> None:
    subject = f"table ({table})"
    path = _table_file(root, table) or root / "bigquery" / f"{table}.jsonl"
    if path.suffix != ".jsonl":
        raise StageError(
            subject, f"rows are appended to {path.with_suffix('.jsonl')}, but {path} is read first"
        )
    try:
        lines = "".join(json.dumps(row, default=json_value) + "\n" for row in rows)
    except TypeError as error:
        raise StageError(subject, f"a row cannot be written: {error}") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as out:
        out.write(lines)


def _mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def table_modified(root: Path, table: str) -> datetime | None:
    path = _table_file(root, table)
    return None if path is None else _mtime(path)


def dataset_modified(root: Path, dataset: str) -> datetime | None:
    """The newest change among the dataset's tables, each judged by the file it is read from."""
    folder = root / "bigquery"
    names = {
        path.name.removesuffix(path.suffix)
        for path in (folder.iterdir() if folder.is_dir() else ())
        if path.suffix in TABLE_EXTENSIONS and path.name.startswith(f"{dataset}.")
    }
    tables = {name for name in names if name.count(".") == 2 and not name.endswith(".")}
    return max(filter(None, (table_modified(root, table) for table in tables)), default=None)


def _files(path: str) -> Iterator[Path]:
    """The files under the folder ``path``, or the file itself."""
    base = Path(path)
    if base.is_file():
        yield base
    elif base.is_dir():
        yield from (child for child in base.rglob("*") if child.is_file())


def list_objects(prefix_uri: str, path: str) -> list[tuple[str, int, datetime]]:
    base = Path(path)
    found = []
    for file in _files(path):
        relative = file.relative_to(base).as_posix()
        uri = prefix_uri if relative == "." else f"{prefix_uri.rstrip('/')}/{relative}"
        found.append((uri, file.stat().st_size, _mtime(file)))
    return found


def exists(path: str) -> bool:
    return next(_files(path), None) is not None


def read_bytes(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise StageError(f"file ({path})", "not found") from None
    except OSError as error:
        raise StageError(f"file ({path})", f"unreadable: {error.strerror}") from None


def write_bytes(path: str, data: bytes) -> None:
    try:
        write_file(path, data)
    except OSError as error:
        raise StageError(f"file ({path})", f"cannot be written: {error.strerror}") from None


def _copy(source: Path, target: Path) -> None:
    """Copy to a temporary sibling renamed into place: a file appears whole or not at all, as objects do."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    try:
        shutil.copyfile(source, temp)
        os.replace(temp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


def upload_dir(local_dir: Path, path: str) -> None:
    for file in _files(str(local_dir)):
        target = Path(path) / file.relative_to(local_dir)
        try:
            _copy(file, target)
        except OSError as error:
            raise StageError(f"file ({target})", f"cannot be written: {error.strerror}") from None


def download_dir(uri: str, path: str, local_dir: Path) -> None:
    if not Path(path).exists():
        raise StageError(f"folder ({uri})", "not found")
    local_dir.mkdir(parents=True, exist_ok=True)
    for file in _files(path):
        target = local_dir / (file.name if Path(path).is_file() else file.relative_to(path))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, target)
