"""BigQuery datasets and tables: those the user declares, and those the config implies
(endpoints' request logs, drift and skew monitors' statistics and alerts).

An implied table the user also declares, in the same dataset under the same name, is
the user's: their definition is built instead, so that they can tune it (expiry,
description, extra columns). Endpoints that name the same log table share it.
"""

from __future__ import annotations

import json

from mlopsctl.build import kms
from mlopsctl.build.context import BuildContext
from mlopsctl.config.models.data import Column, Dataset, Table
from mlopsctl.config.models.monitoring import DataMonitor
from mlopsctl.durations import parse_duration
from mlopsctl.graph import JSON
from mlopsctl.naming import dataset_id, monitor_table, request_log_table
from mlopsctl.sourcemap import Path

DATASET = "gcp:bigquery/dataset:Dataset"
TABLE = "gcp:bigquery/table:Table"


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
        ds = ctx.add(DATASET, key, inputs, source=source, depends_on=key_deps, protect=True)
        for table_key, table in dataset.tables.items():
            table_source = (*source, "tables", table_key)
            _table(ctx, key, ds_id, table_key, table, dataset, ds.address, key_id, table_source)
        for dataset_key, table_key, table, implied_by in implied:
            if dataset_key == key and ctx.address(TABLE, f"{key}.{table_key}") not in ctx.graph.resources:
                _table(ctx, key, ds_id, table_key, table, dataset, ds.address, key_id, implied_by)


def _table(
    ctx: BuildContext,
    dataset_key: str,
    ds_id: str,
    name: str,
    table: Table,
    dataset: Dataset,
    dataset_address: str,
    key_id: str | None,
    source: Path,
) -> None:
    inputs: dict[str, JSON] = {
        "datasetId": ds_id,
        "tableId": name,
        "project": ctx.gcp_project,
        "description": table.description,
        # Protected as a Pulumi resource option instead (see build/cluster.py).
        "deletionProtection": False,
        "labels": ctx.gcp_labels({**dataset.labels, **table.labels}),
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
    if key_id:
        inputs["encryptionConfiguration"] = {"kmsKeyName": key_id}
    ctx.add(
        TABLE,
        f"{dataset_key}.{name}",
        inputs,
        source=source,
        depends_on=(dataset_address,),
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
    for name, endpoint in ctx.config.endpoints.items():
        if endpoint.logging is not None:
            table = request_log_table(name, endpoint.logging.table)
            found.append((endpoint.logging.dataset, table, REQUEST_LOG, ("endpoints", name, "logging")))
    for name, monitor in ctx.config.monitors.items():
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
