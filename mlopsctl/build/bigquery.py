"""BigQuery datasets and tables."""

from __future__ import annotations

import json

from mlopsctl.build import kms
from mlopsctl.build.context import BuildContext
from mlopsctl.config.models.data import Column, Dataset, Table
from mlopsctl.durations import parse_duration
from mlopsctl.graph import JSON
from mlopsctl.naming import dataset_id

DATASET = "gcp:bigquery/dataset:Dataset"
TABLE = "gcp:bigquery/table:Table"


def build(ctx: BuildContext) -> None:
    for key, dataset in ctx.config.data.datasets.items():
        source = ("data", "datasets", key)
        key_id, key_deps = kms.key_reference(ctx, dataset.kms_key)
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
            _table(ctx, key, ds_id, table_key, table, dataset, ds.address, key_id)


def _table(
    ctx: BuildContext,
    dataset_key: str,
    ds_id: str,
    name: str,
    table: Table,
    dataset: Dataset,
    dataset_address: str,
    key_id: str | None,
) -> None:
    inputs: dict[str, JSON] = {
        "datasetId": ds_id,
        "tableId": name,
        "project": ctx.gcp_project,
        "description": table.description,
        "deletionProtection": True,
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
        source=("data", "datasets", dataset_key, "tables", name),
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
