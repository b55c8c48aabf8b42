"""BigQuery table schemas as BigQuery reads them: column names unique per record (compared without
case), and partitioning and clustering on top-level columns of types that allow it."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from mlopsctl.config.checks import CheckContext, check
from mlopsctl.config.diagnostics import Diagnostic, did_you_mean
from mlopsctl.config.models.data import Column, Table
from mlopsctl.config.sourcemap import Path
from mlopsctl.config.wording import with_article

PARTITION_TYPES = {"TIMESTAMP", "DATE", "DATETIME"}
"""Column types a table can be time-partitioned on (BigQuery: partitioned tables)."""
CLUSTER_TYPES = {
    "BIGNUMERIC",
    "BOOL",
    "BOOLEAN",
    "DATE",
    "DATETIME",
    "GEOGRAPHY",
    "INT64",
    "INTEGER",
    "NUMERIC",
    "RANGE",
    "STRING",
    "TIMESTAMP",
}
"""Column types a table can be clustered on (BigQuery: introduction to clustered tables)."""
RECORD_TYPES = {"RECORD", "STRUCT"}
"""Column types that hold nested columns, and need at least one (BigQuery refuses an empty RECORD)."""


@dataclass(frozen=True)
class Col:
    """A column of an inline schema or a schema file; ``path`` locates it when written inline."""

    name: str
    type: str
    mode: str
    fields: tuple[Col, ...]
    path: Path | None


def _inline(columns: Sequence[Column], base: Path) -> tuple[Col, ...]:
    return tuple(
        Col(c.name, c.type, c.mode, _inline(c.fields, (*base, i, "fields")), (*base, i))
        for i, c in enumerate(columns)
    )


def _from_file(raw: object) -> tuple[Col, ...] | None:
    """Columns of a parsed schema file; None where it is malformed (the files check reports that)."""
    if not isinstance(raw, list):
        return None
    found = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            return None
        fields = _from_file(item.get("fields", []))
        if fields is None:
            return None
        kind, mode = item.get("type"), item.get("mode", "NULLABLE")
        found.append(Col(item["name"], str(kind).upper(), str(mode).upper(), fields, None))
    return tuple(found)


def _file_columns(ctx: CheckContext, relative: str) -> tuple[Col, ...] | None:
    base = ctx.base_dir.resolve()
    try:
        file = (base / relative).resolve()
        if not file.is_relative_to(base) or not file.is_file():
            return None
        return _from_file(json.loads(file.read_text(encoding="utf-8")))
    except (OSError, ValueError, RecursionError):
        return None


def table_columns(ctx: CheckContext, table: Table, base: Path) -> tuple[Col, ...] | None:
    """The table's columns, or None when it declares none that can be read."""
    if table.table_schema is not None:
        return _inline(table.table_schema, (*base, "schema"))
    if table.schema_file is not None:
        return _file_columns(ctx, table.schema_file)
    return None


def _tables(ctx: CheckContext) -> Iterator[tuple[str, Table, Path, tuple[Col, ...]]]:
    for ds_key, dataset in ctx.config.data.datasets.items():
        for table_key, table in dataset.tables.items():
            base: Path = ("data", "datasets", ds_key, "tables", table_key)
            columns = table_columns(ctx, table, base)
            if columns is not None:
                yield f"table '{table_key}' of dataset '{ds_key}'", table, base, columns


def _duplicates(columns: Sequence[Col], prefix: str = "") -> Iterator[tuple[Col, Col, str]]:
    """(first, repeated, dotted name of the repeat) for each column named like an earlier one."""
    seen: dict[str, Col] = {}
    for column in columns:
        first = seen.setdefault(column.name.lower(), column)
        if first is not column:
            yield first, column, prefix + column.name
        yield from _duplicates(column.fields, f"{prefix}{column.name}.")


@check
def unique_columns(ctx: CheckContext) -> Iterator[Diagnostic]:
    for what, table, base, columns in _tables(ctx):
        for first, repeat, dotted in _duplicates(columns):
            same = (
                ""
                if first.name == repeat.name
                else f" ('{first.name}' and '{repeat.name}' differ only in case)"
            )
            where = "" if repeat.path is not None else f" in schema file '{table.schema_file}'"
            yield Diagnostic(
                "E205",
                f"{what} declares column '{dotted}' twice{where}{same}: BigQuery compares "
                "column names without case",
                path=(*repeat.path, "name") if repeat.path is not None else (*base, "schemaFile"),
                hint="rename or remove one of the two columns",
            )


def _all_columns(columns: Sequence[Col], prefix: str = "") -> Iterator[tuple[Col, str]]:
    for column in columns:
        yield column, prefix + column.name
        yield from _all_columns(column.fields, f"{prefix}{column.name}.")


@check
def record_fields(ctx: CheckContext) -> Iterator[Diagnostic]:
    """A RECORD/STRUCT column lists its nested columns; a column of any other type has none."""
    for what, table, base, columns in _tables(ctx):
        for column, dotted in _all_columns(columns):
            if (column.type in RECORD_TYPES) == bool(column.fields):
                continue
            where = "" if column.path is not None else f" in schema file '{table.schema_file}'"
            nested = column.type in RECORD_TYPES
            yield Diagnostic(
                "E205",
                f"{what} declares {column.type} column '{dotted}'{where} "
                + (
                    "without 'fields': BigQuery needs at least one nested column"
                    if nested
                    else "with 'fields', which only a RECORD or STRUCT column has"
                ),
                path=(*column.path, "fields" if not nested else "type")
                if column.path is not None
                else (*base, "schemaFile"),
                hint="list its nested columns under 'fields'"
                if nested
                else "remove 'fields', or make it a RECORD",
            )


def top_level(columns: Sequence[Col], name: str) -> Col | None:
    """The top-level column named ``name``, compared without case as BigQuery does."""
    return next((c for c in columns if c.name.lower() == name.lower()), None)


def _missing(what: str, role: str, name: str, columns: Sequence[Col], path: Path) -> Diagnostic:
    names = [c.name for c in columns]
    return Diagnostic(
        "E301",
        f"the {role} '{name}' of {what} is not a top-level column of its schema",
        path=path,
        hint=did_you_mean(name, names) or f"top-level columns: {', '.join(names)}",
    )


@check
def partition_column(ctx: CheckContext) -> Iterator[Diagnostic]:
    for what, table, base, columns in _tables(ctx):
        partitioning = table.partitioning
        if partitioning is None or partitioning.field is None:
            continue
        path: Path = (*base, "partitioning", "field")
        column = top_level(columns, partitioning.field)
        if column is None:
            yield _missing(what, "partitioning field", partitioning.field, columns, path)
        elif column.type not in PARTITION_TYPES or column.mode == "REPEATED":
            yield Diagnostic(
                "E204",
                f"{what} is partitioned on '{column.name}', {with_article(_kind(column))} column; "
                "BigQuery partitions on a TIMESTAMP, DATE or DATETIME column",
                path=path,
                hint=_alternatives(columns, PARTITION_TYPES, "partition on"),
            )
        elif column.type == "DATE" and partitioning.type == "HOUR":
            yield Diagnostic(
                "E204",
                f"{what} is partitioned by HOUR on '{column.name}', a DATE column, which has no hours",
                path=(*base, "partitioning", "type"),
                hint="partition by DAY, MONTH or YEAR, or on a TIMESTAMP or DATETIME column",
            )


def _kind(column: Col) -> str:
    """A column's type as a message names it: ``REPEATED STRING`` for a repeated one."""
    return f"REPEATED {column.type}" if column.mode == "REPEATED" else column.type


@check
def cluster_columns(ctx: CheckContext) -> Iterator[Diagnostic]:
    for what, table, base, columns in _tables(ctx):
        seen: set[str] = set()
        for i, name in enumerate(table.clustering):
            path: Path = (*base, "clustering", i)
            column = top_level(columns, name)
            if name.lower() in seen:
                yield Diagnostic(
                    "E205",
                    f"{what} lists clustering column '{name}' twice",
                    path=path,
                    hint="list each clustering column once",
                )
            elif column is None:
                yield _missing(what, "clustering column", name, columns, path)
            elif column.type not in CLUSTER_TYPES or column.mode == "REPEATED":
                yield Diagnostic(
                    "E204",
                    f"{what} is clustered on '{column.name}', {with_article(_kind(column))} column, "
                    "which BigQuery cannot cluster on",
                    path=path,
                    hint=_alternatives(columns, CLUSTER_TYPES, "cluster on"),
                )
            seen.add(name.lower())


def _alternatives(columns: Sequence[Col], types: set[str], verb: str) -> str:
    able = [c.name for c in columns if c.type in types and c.mode != "REPEATED"]
    allowed = ", ".join(sorted(types))
    return f"{verb} one of: {', '.join(able)}" if able else f"{verb} a column of type {allowed}"
