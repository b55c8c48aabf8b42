"""BigQuery datasets and tables: those the user declares, and those the config implies
(endpoints' request logs, drift and skew monitors' statistics and alerts).

An implied table the user also declares, in the same dataset under the same name, is
the user's: their definition is built instead, so that they can tune it (partitioning,
description, extra columns). Endpoints that name the same log table share it. Endpoints and
monitors placed on Vertex AI imply none: a Vertex AI endpoint creates its request log table
itself (it must not exist before), and Vertex AI's monitors keep their results.

Retention of the implied tables. Their rows are kept for the dataset's
``generatedTables.retention`` (default: for ever), and the whole table is never deleted:

- The retention is the table's partition expiration (``timePartitioning.expirationMs``): each
  day's partition is deleted that long after its day, so the table keeps a rolling window.
  Set on the table, it also wins over a dataset's default partition expiration.
- A dataset's ``defaultTableExpirationMs`` gives every table created without an
  ``expirationTime`` one of its creation time plus the default: the whole table, every
  partition, is deleted then. pulumi-gcp's ``bigquery.Table`` cannot create a table without
  one in such a dataset: it sends no ``expirationTime`` when the value is 0 or absent, and then
  keeps what BigQuery set as its computed value. So a table that a workload writes, in a
  dataset with a default expiration, gets an explicit ``expirationTime`` at the end of
  BigQuery's time range (:data:`NEVER_EXPIRES`), which the default does not override; on an
  existing table the same update replaces an expiration the default had set.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from mlopsctl.compiler import kms
from mlopsctl.compiler.context import BuildContext
from mlopsctl.config.durations import parse_duration
from mlopsctl.config.models.data import Column, Dataset, Table
from mlopsctl.config.models.monitoring import DataMonitor
from mlopsctl.config.naming import dataset_id, monitor_table, request_log_table
from mlopsctl.config.sourcemap import Path
from mlopsctl.graph import JSON

DATASET = "gcp:bigquery/dataset:Dataset"
TABLE = "gcp:bigquery/table:Table"
NEVER_EXPIRES = 253402214400000
"""9999-12-31T00:00:00Z in milliseconds: the expirationTime of a table that must outlive its
dataset's default table expiration (BigQuery timestamps end with 9999)."""


def build(ctx: BuildContext) -> None:
    implied = implied_tables(ctx)
    for key, dataset in ctx.config.data.datasets.items():
        source = ("data", "datasets", key)
        key_id, key_deps = kms.key_reference(ctx, dataset.kms_key, "bigquery")
        ds_id = dataset_id(ctx.target, key, dataset)
        inputs: dict[str, JSON] = {
            "datasetId": ds_id,
            "project": ctx.gcp_project,
            "location": dataset.location or ctx.target.region,
            "description": dataset.description,
            "deleteContentsOnDestroy": False,
            "labels": ctx.gcp_labels(dataset.labels),
        }
        if dataset.default_table_expiration:
            inputs["defaultTableExpirationMs"] = parse_duration(dataset.default_table_expiration) * 1000
        if key_id:
            inputs["defaultEncryptionConfiguration"] = {"kmsKeyName": key_id}
        address = ctx.add(DATASET, key, inputs, source=source, depends_on=key_deps, protect=True).address
        ds = _Dataset(key, ds_id, dataset, address, key_id)
        written = {table_key for dataset_key, table_key, _, _ in implied if dataset_key == key}
        for table_key, table in dataset.tables.items():
            _table(ctx, ds, table_key, table, (*source, "tables", table_key), written=table_key in written)
        retention = dataset.generated_tables.retention
        for dataset_key, table_key, table, implied_by in implied:
            if dataset_key == key and ctx.address(TABLE, f"{key}.{table_key}") not in ctx.graph.resources:
                _table(ctx, ds, table_key, _with_retention(table, retention), implied_by, written=True)


@dataclass(frozen=True)
class _Dataset:
    """A dataset in the graph, as its tables need it."""

    key: str
    id: str
    spec: Dataset
    address: str
    key_id: str | None


def _with_retention(table: Table, retention: str | None) -> Table:
    """An implied table whose partitions expire after ``retention`` (None: kept)."""
    if retention is None or table.partitioning is None:
        return table
    partitioning = table.partitioning.model_copy(update={"expiration": retention})
    return table.model_copy(update={"partitioning": partitioning})


def _table(ctx: BuildContext, ds: _Dataset, name: str, table: Table, source: Path, *, written: bool) -> None:
    """``written``: a workload writes the table (a request log, a monitor's statistics or alerts)."""
    inputs: dict[str, JSON] = {
        "datasetId": ds.id,
        "tableId": name,
        "project": ctx.gcp_project,
        "description": table.description,
        # Protected as a Pulumi resource option instead (see build/cluster.py).
        "deletionProtection": False,
        "labels": ctx.gcp_labels({**ds.spec.labels, **table.labels}),
    }
    schema = table_schema(ctx, table)
    if schema is not None:
        inputs["schema"] = json.dumps(schema, sort_keys=True, separators=(",", ":"))
    if table.partitioning:
        partitioning: dict[str, JSON] = {"type": table.partitioning.type}
        if table.partitioning.field:
            partitioning["field"] = table.partitioning.field
        if table.partitioning.expiration:
            partitioning["expirationMs"] = parse_duration(table.partitioning.expiration) * 1000
        inputs["timePartitioning"] = partitioning
    if table.clustering:
        inputs["clusterings"] = list(table.clustering)
    if ds.key_id:
        inputs["encryptionConfiguration"] = {"kmsKeyName": ds.key_id}
    if written and ds.spec.default_table_expiration:
        inputs["expirationTime"] = NEVER_EXPIRES
    ctx.add(
        TABLE,
        f"{ds.key}.{name}",
        inputs,
        source=source,
        depends_on=(ds.address,),
        protect=True,
    )


def table_schema(ctx: BuildContext, table: Table) -> list[JSON] | None:
    """The BigQuery JSON schema of a table, inline or read from its schema file (checked earlier)."""
    if table.schema_file:
        loaded: list[JSON] = json.loads((ctx.base_dir / table.schema_file).read_text(encoding="utf-8"))
        return loaded
    if table.table_schema is None:
        return None
    return [_column(c) for c in table.table_schema]


def _column(column: Column) -> JSON:
    out: dict[str, JSON] = {"name": column.name, "type": column.type, "mode": column.mode}
    if column.description:
        out["description"] = column.description
    if column.fields:
        out["fields"] = [_column(f) for f in column.fields]
    return out


def implied_tables(ctx: BuildContext) -> list[tuple[str, str, Table, Path]]:
    """(dataset key, table name, table, source) of every table the config implies."""
    found: list[tuple[str, str, Table, Path]] = []
    placement = ctx.config.placement
    for name, endpoint in ctx.config.endpoints.items() if placement.endpoints == "gke" else ():
        if endpoint.logging is not None:
            table = request_log_table(name, endpoint.logging.table)
            found.append((endpoint.logging.dataset, table, REQUEST_LOG, ("endpoints", name, "logging")))
    for name, monitor in ctx.config.monitors.items() if placement.monitors == "gke" else ():
        if isinstance(monitor, DataMonitor):
            source = ("monitors", name, "baseline")
            dataset = monitor.baseline.dataset
            found.append((dataset, monitor_table(name, "statistics"), MONITOR_STATISTICS, source))
            found.append((dataset, monitor_table(name, "alerts"), MONITOR_ALERTS, source))
    return found


def _implied(description: str, time: str, cluster: str, columns: list[tuple[str, str, str]]) -> Table:
    """A table partitioned by day on column ``time``; columns are (name, type, description)."""
    return Table.model_validate(
        {
            "description": description,
            "schema": [
                {
                    "name": n,
                    "type": t,
                    "description": d,
                    "mode": "REQUIRED" if n in (time, *_KEYS) else "NULLABLE",
                }
                for n, t, d in columns
            ],
            "partitioning": {"type": "DAY", "field": time},
            "clustering": [cluster],
        }
    )


_KEYS = ("request_id", "endpoint", "monitor", "feature", "kind")
"""Columns that every row of an implied table has."""
REQUEST_LOG = _implied(
    "Requests and responses of an endpoint, one row per request.",
    "timestamp",
    "variant",
    [
        ("timestamp", "TIMESTAMP", "When the request arrived."),
        ("request_id", "STRING", "The request id."),
        ("endpoint", "STRING", "The endpoint that answered."),
        ("variant", "STRING", "The variant (or graph) that served the request."),
        ("model", "STRING", "The registered model that answered."),
        ("model_version", "STRING", "The version of that model."),
        ("request", "JSON", "The request body."),
        ("response", "JSON", "The response body."),
        ("latency_ms", "FLOAT64", "Time to answer, in milliseconds."),
        ("status", "INT64", "The response status code."),
    ],
)
_MONITOR_COLUMNS = [
    ("run_time", "TIMESTAMP", "When the monitor ran."),
    ("monitor", "STRING", "The monitor that ran."),
    ("feature", "STRING", "The feature compared."),
    ("kind", "STRING", "numeric or categorical."),
    ("distance", "FLOAT64", "Jensen-Shannon divergence (numeric) or L-infinity distance (categorical)."),
    ("threshold", "FLOAT64", "The distance above which the feature counts as drifted."),
]
MONITOR_STATISTICS = _implied(
    "Feature statistics of each run of a drift or skew monitor.",
    "run_time",
    "feature",
    [
        *_MONITOR_COLUMNS,
        ("serving_count", "INT64", "Serving rows compared."),
        ("baseline_count", "INT64", "Baseline rows compared."),
        ("statistics", "JSON", "The feature's distribution in the serving and baseline data."),
    ],
)
MONITOR_ALERTS = _implied(
    "Features that crossed their threshold in a run of a drift or skew monitor.",
    "run_time",
    "feature",
    _MONITOR_COLUMNS,
)
