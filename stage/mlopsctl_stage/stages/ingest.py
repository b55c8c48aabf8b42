"""ingest: read a source into an examples artifact, split into train and eval.

The split is by each row's content: a row goes to eval when the seeded BLAKE2b hash of its
values, read as a fraction of 2**64, is below ``split.eval``. So the same input and seed give the
same split whatever the order rows arrive in (BigQuery's read streams have none), a row stays on
its side as the data grows, and duplicate rows never straddle train and eval.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mlopsctl_stage import storage
from mlopsctl_stage.errors import StageError
from mlopsctl_stage.storage.formats import normalize, parse
from mlopsctl_stage.tables import write_examples

DEFAULT_SPLIT = {"eval": 0.2, "seed": 0}
HTTP_TIMEOUT = 60


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--examples", required=True, help="OUT: the examples artifact folder.")


def _text(config: dict[str, Any], key: str, where: str) -> str:
    value = config.get(key)
    if not isinstance(value, str) or not value:
        raise StageError(where, "must be a non-empty string")
    return value


def _bigquery(spec: Any) -> tuple[pa.Table, dict[str, Any]]:
    if not isinstance(spec, dict) or ("table" in spec) == ("query" in spec):
        raise StageError(
            "source.bigquery",
            'give one of {"table": T, "columns": [C, ...]?} or {"query": SQL, "project": P}',
        )
    if "table" in spec:
        table = _text(spec, "table", "source.bigquery.table")
        columns = spec.get("columns")
        if columns is not None and (
            not isinstance(columns, list) or not columns or not all(isinstance(c, str) and c for c in columns)
        ):
            raise StageError("source.bigquery.columns", "must be a non-empty list of column names")
        read = storage.read_table(table, columns=columns)
        return read, {"source": f"bq://{table.removeprefix('bq://')}"}
    sql = _text(spec, "query", "source.bigquery.query")
    project = _text(spec, "project", "source.bigquery.project")
    return storage.query(sql, project), {"source": f"bq://{project}", "query": sql}


def _https(uri: str, format: str | None) -> pa.Table:
    """The file the URL serves: downloaded, or in a local run its stand-in when the run has one."""
    place = storage.local_place(uri)
    if place is not None and Path(place).is_file():
        return parse(Path(place).read_bytes(), uri.split("?")[0], format)
    try:
        with urllib.request.urlopen(uri, timeout=HTTP_TIMEOUT) as response:
            data: bytes = response.read()
    except (urllib.error.URLError, OSError) as error:
        raise StageError(
            f"source ({uri})", f"cannot be downloaded: {getattr(error, 'reason', error)}"
        ) from None
    return parse(data, uri.split("?")[0], format)


def _uri(uri: str, format: str | None, billing: str | None) -> pa.Table:
    """A ``data.external`` source: a table, a file to download, or files."""
    table = format == "bigquery" or uri.startswith("bq://")
    if table:
        _local_sample(
            uri, lambda: storage.table_modified(uri) is not None, "table", "<key>.jsonl|csv|parquet"
        )
        # The read session runs in the step's own project: the table's may be another's.
        return storage.read_table(uri, billing=billing)
    if uri.startswith(("https://", "http://")):
        return _https(uri, format)
    _local_sample(uri, lambda: storage.exists(uri), "files", "<key>/")
    return storage.read_files(uri, format)


def _local_sample(uri: str, found: Callable[[], bool], what: str, sample: str) -> None:
    """In a local run, an external source without local data fails saying where its data goes (in the
    cloud, nothing is looked up)."""
    place = storage.local_place(uri)
    if place is None or found():
        return
    raise StageError(
        f"source ({uri})",
        f"a data.external source with no data in this local run: its {what} would be {place}, "
        f"copied there by mlopsctl run --local from sample-data/external/{sample} "
        "(<key>: the source's key under data.external; docs/local-runs.md)",
    )


def _format(source: dict[str, Any]) -> str | None:
    """``source.format``, normalized: a file format, ``bigquery``, or None (by the files' extensions)."""
    value = source.get("format")
    if value is not None and not isinstance(value, str):
        raise StageError("source.format", "must be a string")
    if value is None or value.lower() == "bigquery":
        return None if value is None else "bigquery"
    return normalize(value)


def read_source(source: Any) -> tuple[pa.Table, dict[str, Any]]:
    """The source's rows, and what to record about it in metadata.json (``source``, its address)."""
    kinds = [k for k in ("gcs", "bigquery", "uri") if isinstance(source, dict) and k in source]
    if not isinstance(source, dict) or len(kinds) != 1:
        raise StageError("source", 'give exactly one of "gcs", "bigquery" or "uri"')
    if kinds == ["bigquery"]:
        return _bigquery(source["bigquery"])
    format = _format(source)
    address = _text(source, kinds[0], f"source.{kinds[0]}")
    if kinds == ["uri"]:
        billing = _text(source, "project", "source.project") if "project" in source else None
        return _uri(address, format, billing), {"source": address}
    if not address.startswith("gs://"):
        raise StageError(f"source.gcs ({address})", "must be a gs:// URI")
    return storage.read_files(address, format), {"source": address}


def split_settings(value: Any) -> tuple[float, int]:
    """``split.eval`` and ``split.seed``, defaults filled in."""
    if not isinstance(value, dict | None):
        raise StageError("split", 'must be {"eval": FRACTION, "seed": INTEGER}')
    settings = {**DEFAULT_SPLIT, **(value or {})}
    fraction, seed = settings["eval"], settings["seed"]
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 < fraction < 1:
        raise StageError(f"split.eval ({fraction})", "must be a number between 0 and 1")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise StageError(f"split.seed ({seed})", "must be an integer")
    return float(fraction), seed


def _cells(column: pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
    """Each value of ``column`` as text that differs whenever the value does (JSON for nested ones)."""
    if not pa.types.is_nested(column.type):
        try:
            return pc.cast(column, pa.string())
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
            pass  # binary that is not text, and the like
    return pa.array([json.dumps(v, sort_keys=True, default=repr) for v in column.to_pylist()], pa.string())


def eval_mask(table: pa.Table, fraction: float, seed: int) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Which rows go to eval (see the module's docstring)."""
    key = seed.to_bytes(8, "big", signed=True)
    cells = [_cells(table.column(i)) for i in range(table.num_columns)]
    rows = pc.binary_join_element_wise(*cells, "\x1f", null_handling="replace", null_replacement="\x00")
    digests = b"".join(
        hashlib.blake2b(row, digest_size=8, key=key).digest()
        for row in pc.cast(rows, pa.binary()).to_pylist()
    )
    positions = np.frombuffer(digests, dtype=">u8").astype(np.float64) / 2.0**64
    return positions < fraction


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    fraction, seed = split_settings(config.get("split"))
    table, metadata = read_source(config.get("source"))
    label = config.get("label")
    address = metadata["source"]
    if table.num_rows == 0 or table.num_columns == 0:
        raise StageError(f"source ({address})", f"has no {'rows' if table.num_columns else 'columns'}")
    if label is not None and (not isinstance(label, str) or label not in table.column_names):
        raise StageError(
            f"label ({label})", f"not a column of {address} (it has {', '.join(table.column_names)})"
        )
    mask = eval_mask(table, fraction, seed)
    splits = {"train": table.filter(pa.array(~mask)), "eval": table.filter(pa.array(mask))}
    for name, part in splits.items():
        if part.num_rows == 0:
            raise StageError(
                f"split.eval ({fraction})",
                f"leaves the {name} split empty ({table.num_rows} rows in {address})",
            )
    write_examples(
        args.examples, splits, {**metadata, "label": label, "split": {"eval": fraction, "seed": seed}}
    )
