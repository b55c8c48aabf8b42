"""``batch-predict``: score a BigQuery table or GCS files through a model endpoint, in batches.

Rows go to the endpoint (KServe v1 instances keyed by column, or v2 with one input per column)
``batchSize`` at a time, at most ``concurrency`` requests in flight, over one pool of kept-alive
urllib3 connections. A connection error, a timeout or a 429/5xx answer is retried ``retries``
times with exponential backoff (honouring ``Retry-After``); any other error stops the stage. The
results, the input rows plus ``prediction`` (and, for each further v2 output, ``prediction_NAME``),
are appended to the output table or written as one Parquet file under the output prefix. An output
table given with ``columns`` (its declared schema: ``{name, mode}`` each) gets those columns, in that
order, named as the table spells them (BigQuery compares column names without case): each is filled
from a prediction or an input column; one neither fills is left out of the rows (null) unless it is
REQUIRED; predictions the table has no column for are left out (BigQuery refuses a row with a field
its table lacks).
In a local run, the endpoint URL is replaced by its local stand-in (``endpoints`` of the settings).
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import urllib3

from mlopsctl_stage import storage
from mlopsctl_stage.errors import StageError

RETRIED_STATUSES = (429, 500, 502, 503, 504)
BACKOFF_SECONDS = 0.5
"""The first retry is at once, then 2x this, 4x, ... up to ``urllib3.Retry``'s 120 s cap."""
TIMEOUT = urllib3.Timeout(connect=10.0, read=300.0)
PREDICTION = "prediction"
"""The column of the (first) prediction; a v2 endpoint's further outputs are ``prediction_NAME``."""
MODES = ("NULLABLE", "REQUIRED", "REPEATED")


@dataclass(frozen=True)
class Endpoint:
    url: str
    """The prediction URL (``…/v1/models/NAME:predict`` or ``…/v2/models/NAME/infer``)."""
    protocol: str
    batch_size: int
    concurrency: int
    retries: int


@dataclass(frozen=True)
class Declared:
    """A column the output table declares: its name as the table spells it, and whether BigQuery
    refuses a row without it (mode REQUIRED)."""

    name: str
    required: bool


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No role flags: input, output and endpoint are all in ``--config``."""


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    endpoint = _endpoint(config)
    source = _io(config, "input")
    target = _io(config, "output")
    declared = _declared_columns(config, target)
    table = _read(source)
    if declared is not None:
        _check_declared(declared, table.column_names, endpoint.protocol, source, target)
    if table.num_rows == 0:
        print(f"nothing to score: {_describe(source)} has no rows", file=sys.stderr)
        return
    columns = predict(table, endpoint)
    if declared is not None:
        table = _select_declared(table, columns, declared, target)
    else:
        for name, values in columns.items():
            table = table.append_column(name, pa.array(values))
    _write(target, table)
    batches = -(-table.num_rows // endpoint.batch_size)
    print(
        f"scored {table.num_rows} rows in {batches} batches: {_describe(source)} -> {_describe(target)}",
        file=sys.stderr,
    )


def predict(table: pa.Table, endpoint: Endpoint) -> dict[str, list[Any]]:
    """The prediction columns for ``table``, in row order."""
    retry = urllib3.Retry(
        total=endpoint.retries,
        status_forcelist=RETRIED_STATUSES,
        allowed_methods=None,  # scoring is idempotent: POSTs are retried too
        backoff_factor=BACKOFF_SECONDS,
        raise_on_status=False,
    )
    http = urllib3.PoolManager(maxsize=endpoint.concurrency, block=True, retries=retry, timeout=TIMEOUT)
    starts = range(0, table.num_rows, endpoint.batch_size)
    with ThreadPoolExecutor(max_workers=endpoint.concurrency) as pool:
        futures = [
            pool.submit(_score, http, endpoint, table.slice(start, endpoint.batch_size)) for start in starts
        ]
        try:
            results = [future.result() for future in futures]
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise
    columns: dict[str, list[Any]] = {}
    for result in results:
        for name, values in result.items():
            columns.setdefault(name, []).extend(values)
    return columns


def _score(http: urllib3.PoolManager, endpoint: Endpoint, batch: pa.Table) -> dict[str, list[Any]]:
    body = _v1_body(batch) if endpoint.protocol == "v1" else _v2_body(batch)
    try:
        response = http.request(
            "POST",
            endpoint.url,
            body=json.dumps(body, default=_json_value),
            headers={"Content-Type": "application/json"},
        )
    except urllib3.exceptions.MaxRetryError as error:
        raise StageError(
            "endpoint", f"{endpoint.url}: no answer after {endpoint.retries} retries: {error.reason}"
        ) from None
    except urllib3.exceptions.HTTPError as error:
        raise StageError("endpoint", f"{endpoint.url}: {error}") from None
    if response.status != 200:
        retried = f" after {endpoint.retries} retries" if response.status in RETRIED_STATUSES else ""
        detail = response.data.decode(errors="replace").strip()[:300]
        raise StageError("endpoint", f"{endpoint.url} answered {response.status}{retried}: {detail}")
    try:
        answer = json.loads(response.data)
        columns = _v1_columns(answer) if endpoint.protocol == "v1" else _v2_columns(answer)
    except (ValueError, KeyError, TypeError) as error:
        raise StageError(
            "endpoint", f"{endpoint.url}: not a KServe {endpoint.protocol} answer ({error})"
        ) from None
    for name, values in columns.items():
        if len(values) != batch.num_rows:
            raise StageError(
                "endpoint", f"{endpoint.url}: {len(values)} {name} values for {batch.num_rows} rows"
            )
    return columns


def _v1_body(batch: pa.Table) -> dict[str, Any]:
    return {"instances": batch.to_pylist()}


def _v2_body(batch: pa.Table) -> dict[str, Any]:
    return {
        "inputs": [
            {
                "name": name,
                "shape": [batch.num_rows],
                "datatype": _v2_type(column.type),
                "data": column.to_pylist(),
            }
            for name, column in zip(batch.column_names, batch.columns, strict=True)
        ]
    }


def _v2_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_boolean(arrow_type):
        return "BOOL"
    if pa.types.is_integer(arrow_type):
        return "INT64"
    if pa.types.is_floating(arrow_type):
        return "FP64"
    return "BYTES"


def _v1_columns(answer: dict[str, Any]) -> dict[str, list[Any]]:
    predictions = answer["predictions"]
    if not isinstance(predictions, list):
        raise TypeError('"predictions" is not a list')
    return {PREDICTION: predictions}


def _v2_columns(answer: dict[str, Any]) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {}
    for position, output in enumerate(answer["outputs"]):
        shape = [int(size) for size in output["shape"]]
        rows = np.asarray(output["data"], dtype=object).reshape(shape)
        name = PREDICTION if position == 0 else f"{PREDICTION}_{output['name']}"
        columns[name] = rows.tolist()
    return columns


def _endpoint(config: dict[str, Any]) -> Endpoint:
    found = config.get("endpoint")
    if not isinstance(found, dict) or not isinstance(found.get("url"), str) or not found["url"]:
        raise StageError("endpoint.url", "the URL of the endpoint to call is required")
    protocol = found.get("protocol", "v1")
    if protocol not in ("v1", "v2"):
        raise StageError("endpoint.protocol", f"must be v1 or v2, not {json.dumps(protocol)}")
    model = config.get("model")
    name = found.get("modelName") or (model.get("name") if isinstance(model, dict) else None)
    if not name or not isinstance(name, str):
        raise StageError("endpoint.modelName", "the model's name on the endpoint is required")
    base = _local_url(found["url"].rstrip("/"))
    if "/v1/models/" in base or "/v2/models/" in base:
        url = base
    else:
        url = f"{base}/v1/models/{name}:predict" if protocol == "v1" else f"{base}/v2/models/{name}/infer"
    return Endpoint(
        url=url,
        protocol=protocol,
        batch_size=_count(config, "batchSize", 100, 1),
        concurrency=_count(config, "concurrency", 4, 1),
        retries=_count(config, "retries", 3, 0),
    )


def _local_url(url: str) -> str:
    """The local stand-in of a cluster URL (the longest matching prefix), in a local run."""
    settings = storage.local_settings()
    if settings is None:
        return url
    stand_ins = {key.rstrip("/"): value.rstrip("/") for key, value in settings.endpoints.items()}
    matches = [key for key in stand_ins if url == key or url.startswith(f"{key}/")]
    if not matches:
        return url
    key = max(matches, key=len)
    return stand_ins[key] + url[len(key) :]


def _count(config: dict[str, Any], key: str, default: int, least: int) -> int:
    value = config.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise StageError(key, f"must be a whole number >= {least}, not {json.dumps(value)}")
    return value


def _io(config: dict[str, Any], key: str) -> tuple[str, str]:
    """``("bigquery", TABLE)`` or ``("gcs", PREFIX)``."""
    found = config.get(key)
    if isinstance(found, dict) and isinstance(found.get("bigquery"), dict) and found["bigquery"].get("table"):
        return "bigquery", str(found["bigquery"]["table"])
    if isinstance(found, dict) and isinstance(found.get("gcs"), str) and found["gcs"]:
        return "gcs", found["gcs"]
    raise StageError(
        key, 'must be {"bigquery": {"table": "PROJECT.DATASET.TABLE"}} or {"gcs": "gs://BUCKET/PATH/"}'
    )


def _declared_columns(config: dict[str, Any], target: tuple[str, str]) -> list[Declared] | None:
    """``output.bigquery.columns``: the output table's declared columns, or None (no declared schema)."""
    found = config["output"]["bigquery"].get("columns") if target[0] == "bigquery" else None
    if found is None:
        return None
    shape = 'must be a non-empty list of {"name": COLUMN, "mode": "NULLABLE", "REQUIRED" or "REPEATED"}'
    if not isinstance(found, list) or not found:
        raise StageError("output.bigquery.columns", shape)
    columns: dict[str, Declared] = {}
    for item in found:
        name = item.get("name") if isinstance(item, dict) else None
        mode = item.get("mode", "NULLABLE") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name or not isinstance(mode, str) or mode.upper() not in MODES:
            raise StageError("output.bigquery.columns", f"{shape}, not {json.dumps(item)}")
        columns.setdefault(name.lower(), Declared(name, mode.upper() == "REQUIRED"))
    return list(columns.values())


def _find(names: Iterable[str], name: str) -> str | None:
    """The one of ``names`` that is ``name`` compared without case, as BigQuery compares column
    names (an exact match first)."""
    candidates = list(names)
    if name in candidates:
        return name
    return next((n for n in candidates if n.lower() == name.lower()), None)


def _is_prediction(column: str) -> bool:
    return column.lower() == PREDICTION or column.lower().startswith(f"{PREDICTION}_")


def _check_declared(
    declared: list[Declared],
    inputs: list[str],
    protocol: str,
    source: tuple[str, str],
    target: tuple[str, str],
) -> None:
    """Before scoring: one declared column takes the predictions, and each REQUIRED one can be filled."""
    where = f"table ({target[1]})"
    if not any(c.name.lower() == PREDICTION for c in declared):
        raise StageError(
            where,
            f"declares no column '{PREDICTION}' for the predictions (its columns: "
            f"{', '.join(c.name for c in declared)}): add '{PREDICTION}' to its schema",
        )
    for column in declared:
        if _find(inputs, column.name) is not None or column.name.lower() == PREDICTION:
            continue
        if _is_prediction(column.name) and protocol == "v1":
            raise StageError(
                where,
                f"declares column '{column.name}', which a KServe v1 endpoint never fills (it returns one "
                f"prediction per row, written to '{PREDICTION}'): remove it from the table's schema, or "
                "serve the model over the v2 protocol",
            )
        if column.required and not _is_prediction(column.name):
            raise StageError(
                where,
                f"declares REQUIRED column '{column.name}', which is neither a column of the input "
                f"{_describe(source)} (it has {', '.join(inputs) or 'none'}) nor a prediction: remove it "
                "from the table's schema, make it NULLABLE, or add it to the input",
            )


def _select_declared(
    inputs: pa.Table, predictions: dict[str, list[Any]], declared: list[Declared], target: tuple[str, str]
) -> pa.Table:
    """The declared columns of the scored rows, in their order and spelling; a prediction column is
    filled from that output of the endpoint (else from an input column), any other from an input
    column, or left out (null) when none has it. Predictions without a column are dropped."""
    names: list[str] = []
    arrays: list[pa.Array | pa.ChunkedArray] = []
    used: set[str] = set()
    left_out: list[str] = []
    for column in declared:
        output = _find(predictions, column.name) if _is_prediction(column.name) else None
        given = _find(inputs.column_names, column.name)
        if output is not None:
            used.add(output)
            names.append(column.name)
            arrays.append(pa.array(predictions[output]))
        elif given is not None:
            names.append(column.name)
            arrays.append(inputs.column(given))
        elif _is_prediction(column.name):
            raise StageError(
                f"table ({target[1]})",
                f"declares column '{column.name}', but the endpoint returned no such output "
                f"(its predictions: {', '.join(predictions)})",
            )
        else:
            left_out.append(column.name)
    dropped = [name for name in predictions if name not in used]
    if dropped:
        print(
            f"not written: {', '.join(dropped)} (the table {target[1]} declares no such column)",
            file=sys.stderr,
        )
    if left_out:
        print(
            f"left null: {', '.join(left_out)} (neither an input column nor a prediction; the table "
            f"{target[1]} does not require it)",
            file=sys.stderr,
        )
    return pa.Table.from_arrays(arrays, names=names)


def _describe(place: tuple[str, str]) -> str:
    return place[1] if place[0] == "gcs" else f"bq://{place[1]}"


def _read(source: tuple[str, str]) -> pa.Table:
    kind, address = source
    return storage.read_table(address) if kind == "bigquery" else storage.read_files(address)


def _write(target: tuple[str, str], table: pa.Table) -> None:
    kind, address = target
    if kind == "bigquery":
        storage.append_rows(address, table.to_pylist())
        return
    settings = storage.local_settings()
    now = settings.now if settings is not None and settings.now is not None else datetime.now(UTC)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    name = f"predictions-{now.strftime('%Y%m%dT%H%M%S%fZ')}.parquet"
    storage.write_bytes(f"{address.rstrip('/')}/{name}", sink.getvalue().to_pybytes())


def _json_value(value: Any) -> Any:
    """What JSON cannot hold natively: times as ISO 8601, decimals as numbers, bytes as base64."""
    if isinstance(value, date):  # datetimes too
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} cannot be sent as JSON")
