"""Data files to Arrow tables, by format, and the ``since`` filter of local tables."""

from __future__ import annotations

import gzip
import io
import math
import posixpath
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mlopsctl_stage.errors import StageError
from mlopsctl_stage.storage import tfrecord

if TYPE_CHECKING:
    import pyarrow as pa


class EmptyFile(StageError):
    """A data file with no bytes but white space: no rows and no columns."""


FORMATS = ("csv", "parquet", "jsonl", "avro", "tfrecord")
_ALIASES = {"json": "jsonl", "ndjson": "jsonl", "newline_delimited_json": "jsonl", "tfrecords": "tfrecord"}
_EXTENSIONS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".avro": "avro",
    ".tfrecord": "tfrecord",
    ".tfrecords": "tfrecord",
    ".tfrec": "tfrecord",
}


def normalize(format: str) -> str:
    """``format`` as one of FORMATS (any case; ``json`` is JSON lines, as in BigQuery's exports)."""
    found = _ALIASES.get(format.lower(), format.lower())
    if found not in FORMATS:
        raise StageError(f"format ({format})", f"unknown; give one of {', '.join(FORMATS)}")
    return found


def skipped(uri: str) -> bool:
    """Whether a file is bookkeeping rather than data: ``_SUCCESS``, ``.part-0.tmp`` and the like."""
    return posixpath.basename(uri).startswith(("_", "."))


def format_of(uri: str) -> str | None:
    """The format a file's extension says (``.gz`` aside), or None."""
    stem, extension = posixpath.splitext(uri.removesuffix(".gz").lower())
    return _EXTENSIONS.get(extension) if stem else None


def parse(data: bytes, uri: str, format: str | None = None) -> pa.Table:
    """The table in the file ``uri`` holding ``data``; its format by extension unless ``format`` is given."""
    import pyarrow as pa

    found = normalize(format) if format else format_of(uri)
    if found is None:
        raise StageError(f"file ({uri})", f"unknown format; name it (one of {', '.join(FORMATS)})")
    if uri.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as error:
            raise StageError(f"file ({uri})", f"not gzip: {error}") from None
    if found == "tfrecord":
        return tfrecord.read(data, uri)
    if not data.strip():
        raise EmptyFile(f"file ({uri})", "is empty: no rows and no columns")
    try:
        table = _READERS[found](data)
    except (pa.ArrowException, ValueError, EOFError) as error:
        raise StageError(f"file ({uri})", f"unreadable as {found}: {error}") from None
    _check_unique(table.column_names, uri, " in its header" if found == "csv" else "")
    return table


def _check_unique(names: list[str], uri: str, where: str) -> None:
    """Fail on a column name a file holds twice (a CSV header naming a column twice, say)."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise StageError(f"file ({uri})", f"has two columns named {name!r}: rename one{where}")
        seen.add(name)


def _csv(data: bytes) -> pa.Table:
    import pyarrow as pa
    import pyarrow.csv

    # An empty cell is null (as BigQuery loads CSV); a quoted empty string stays a string.
    options = pyarrow.csv.ConvertOptions(strings_can_be_null=True, quoted_strings_can_be_null=False)
    return pyarrow.csv.read_csv(pa.BufferReader(data), convert_options=options)


def _parquet(data: bytes) -> pa.Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    return pq.read_table(pa.BufferReader(data))


def _jsonl(data: bytes) -> pa.Table:
    import pyarrow as pa
    import pyarrow.json

    # One block, so that every line's types count in the inference (objects become structs).
    options = pyarrow.json.ReadOptions(block_size=max(len(data) + 1, 1 << 20))
    try:
        return pyarrow.json.read_json(pa.BufferReader(data), read_options=options)
    except pa.ArrowInvalid as error:
        return _jsonl_as_text(data, error)


def _jsonl_as_text(data: bytes, error: pa.ArrowInvalid) -> pa.Table:
    """JSON lines that Arrow cannot type as structs, such as KServe v2 bodies whose tensors hold
    numbers in one input and strings in another: each column holding objects or lists as JSON text,
    as BigQuery's read API returns a JSON column. Scalars of clashing types still fail (``error``).
    Numbers are typed as Arrow's reader types them (a column holding a float, or an integer past 64 bits,
    is floats); a number past the largest float fails, naming its line and column."""
    import json

    import pyarrow as pa

    rows = []
    for number, line in enumerate(data.splitlines(), 1):
        if line.strip():
            try:
                row = json.loads(line, parse_float=_number)
            except ValueError:
                raise error from None
            if not isinstance(row, dict):
                raise error
            rows.append(_in_range(row, number))
    nested = {k for row in rows for k, v in row.items() if isinstance(v, dict | list)}
    floats = {k for row in rows for k, v in row.items() if isinstance(v, float)}
    for row in rows:
        for key in nested & row.keys():
            if row[key] is not None:
                row[key] = json.dumps(row[key], separators=(",", ":"))
        for key in floats & row.keys():  # a column of numbers holding a float is floats, as Arrow reads it
            if isinstance(row[key], int) and not isinstance(row[key], bool):
                row[key] = float(row[key])
    try:
        return pa.Table.from_pylist(rows)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        raise error from None


class _TooLarge(str):
    """The text of a JSON number past the largest float, such as ``1e400`` (json reads it as inf)."""


def _number(text: str) -> float | _TooLarge:
    value = float(text)
    return _TooLarge(text) if math.isinf(value) else value


def _in_range(row: dict[str, Any], line: int) -> dict[str, Any]:
    """``row`` with integers past 64 bits as floats (as Arrow's reader takes them); a number past the
    largest float fails, naming its line and column."""
    for key, value in row.items():
        too_large = _too_large(value)
        if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
            try:
                row[key] = float(value)
            except OverflowError:
                too_large = str(value)
        if too_large is not None:
            shown = too_large if len(too_large) <= 40 else f"{too_large[:37]}..."
            raise ValueError(f"line {line}: {key!r} holds {shown}, past the largest float (about 1.8e308)")
    return row


def _too_large(value: Any) -> str | None:
    """The first number past the largest float in ``value``, or None."""
    if isinstance(value, _TooLarge):
        return str(value)
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return next((found for item in items if (found := _too_large(item)) is not None), None)


def _avro(data: bytes) -> pa.Table:
    import fastavro
    import pyarrow as pa

    return pa.Table.from_pylist(list(fastavro.reader(io.BytesIO(data))))


_READERS = {"csv": _csv, "parquet": _parquet, "jsonl": _jsonl, "avro": _avro}


_ZONED = r"\d[T ]\d\d(:\d\d)*(\.\d+)?\s*(Z|z|[+-]\d\d(:?\d\d)?)$"
"""ISO 8601 text of a time that ends in a zone offset."""


def utc_times(values: pa.ChunkedArray, subject: str) -> pa.ChunkedArray:
    """A column of times as UTC timestamps: timestamps, or ISO 8601 text with or without a zone offset
    (the two may be mixed; naive times are UTC, as BigQuery reads them)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    utc = pa.timestamp("us", tz="UTC")
    if pa.types.is_timestamp(values.type):
        if values.type.tz is None:
            return pc.assume_timezone(pc.cast(values, pa.timestamp("us")), "UTC")
        return pc.cast(values, utc)
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        raise StageError(subject, f"it holds {values.type}, not times")
    zoned = pc.fill_null(pc.match_substring_regex(values, _ZONED), False)
    none = pa.scalar(None, values.type)
    try:
        with_zone = pc.cast(pc.if_else(zoned, values, none), utc)
        naive = pc.cast(pc.if_else(zoned, none, values), pa.timestamp("us"))
    except pa.ArrowInvalid as error:
        bad = next((v for v in values.to_pylist() if v is not None and not _is_time(v)), None)
        why = f"{bad[:40]!r} is not an ISO 8601 time (as 2025-06-02T11:58:46Z)" if bad else str(error)
        raise StageError(subject, why) from None
    return pc.coalesce(with_zone, pc.assume_timezone(naive, "UTC"))


def _is_time(text: str) -> bool:
    import pyarrow as pa
    import pyarrow.compute as pc

    one = pa.array([text])
    for type in (pa.timestamp("us", tz="UTC"), pa.timestamp("us")):
        try:
            pc.cast(one, type)
        except pa.ArrowInvalid:
            continue
        return True
    return False


def since(table: pa.Table, column: str, time: datetime, subject: str) -> pa.Table:
    """The rows of ``table`` whose ``column`` is at or after ``time`` (a naive time or column is UTC)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if column not in table.column_names:
        raise StageError(subject, f"has no column '{column}' to filter on")
    values = table.column(column)
    moment = time if time.tzinfo else time.replace(tzinfo=UTC)
    try:
        if pa.types.is_date(values.type):
            bound = pa.scalar(moment.astimezone(UTC).date(), type=values.type)
        else:
            values = utc_times(values, f"{subject}: cannot filter on '{column}'")
            bound = pa.scalar(moment, type=pa.timestamp("us", tz="UTC"))
        return table.filter(pc.fill_null(pc.greater_equal(values, bound), False))
    except pa.ArrowException as error:
        raise StageError(subject, f"cannot filter on '{column}': {error}") from None
