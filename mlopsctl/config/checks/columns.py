"""Columns that monitors and steps name are columns of the tables they read.

A batch job's output table, when it declares a schema, has a column for the predictions, and each
of its REQUIRED columns is a prediction or (when the input table declares a schema) an input column.

Only tables the config declares with a schema (inline or a schema file) are checked: a table
declared without one, or not declared at all, is outside what mlopsctl knows. Otherwise a drift
monitor, an ingest step or a transform step fails at run time on a column its table lacks.
"""

from __future__ import annotations

from collections.abc import Iterator

from mlopsctl.config.checks import CheckContext, check
from mlopsctl.config.checks.bigquery_schema import Col, table_columns, top_level
from mlopsctl.config.diagnostics import Diagnostic, did_you_mean
from mlopsctl.config.endpoints import batch_endpoint
from mlopsctl.config.models.monitoring import DataMonitor
from mlopsctl.config.models.pipelines import Pipeline
from mlopsctl.config.sourcemap import Path

PREDICTION = "prediction"
"""The column batch-predict writes the (first) prediction of each row to."""


def _declared_columns(ctx: CheckContext, dataset: str, table: str | None) -> tuple[Col, ...] | None:
    """The columns of ``dataset.table`` when the config declares that table with a schema."""
    declared = ctx.config.data.datasets.get(dataset)
    spec = declared.tables.get(table) if declared is not None and table is not None else None
    if spec is None:
        return None
    return table_columns(ctx, spec, ("data", "datasets", dataset, "tables", str(table)))


def _not_a_column(message: str, name: str, columns: tuple[Col, ...], path: Path) -> Diagnostic:
    names = [c.name for c in columns]
    return Diagnostic(
        "E301", message, path=path, hint=did_you_mean(name, names) or f"its columns: {', '.join(names)}"
    )


@check
def monitor_features(ctx: CheckContext) -> Iterator[Diagnostic]:
    """A drift or skew monitor compares each of its features with that column of its baseline."""
    for name, monitor in ctx.config.monitors.items():
        if not isinstance(monitor, DataMonitor):
            continue
        baseline = monitor.baseline
        columns = _declared_columns(ctx, baseline.dataset, baseline.table)
        for feature in monitor.features if columns is not None else ():
            if top_level(columns or (), feature) is None:
                message = (
                    f"feature '{feature}' of monitor '{name}' is not a column of its baseline, "
                    f"table '{baseline.table}' of dataset '{baseline.dataset}'"
                )
                yield _not_a_column(message, feature, columns or (), ("monitors", name, "features", feature))


def _ingest_tables(pipeline: Pipeline) -> dict[str, tuple[str, str]]:
    """The ingest steps of ``pipeline`` that read a whole BigQuery table: step -> (dataset, table)."""
    found = {}
    for step_name, step in pipeline.steps.items():
        bigquery = step.source.bigquery if step.kind == "ingest" and step.source is not None else None
        if bigquery is not None and bigquery.table is not None:
            found[step_name] = (bigquery.dataset, bigquery.table)
    return found


@check
def step_columns(ctx: CheckContext) -> Iterator[Diagnostic]:
    """An ingest step's label, and the features a transform step names for the examples an ingest
    step read, are columns of the table it read."""
    for p, pipeline in ctx.config.pipelines.items():
        tables = _ingest_tables(pipeline)
        for s, step in pipeline.steps.items():
            base: Path = ("pipelines", p, "steps", s)
            if s in tables and step.label is not None:
                dataset, table = tables[s]
                columns = _declared_columns(ctx, dataset, table)
                if columns is not None and top_level(columns, step.label) is None:
                    message = (
                        f"the label '{step.label}' of ingest step '{s}' is not a column of table "
                        f"'{table}' of dataset '{dataset}', which the step reads"
                    )
                    yield _not_a_column(message, step.label, columns, (*base, "label"))
            if step.kind != "transform" or not step.transforms:
                continue
            producers = {producer for producer, _, _ in step.references() if producer in tables}
            for producer in sorted(producers):
                dataset, table = tables[producer]
                columns = _declared_columns(ctx, dataset, table)
                for feature in step.transforms if columns is not None else ():
                    if top_level(columns or (), feature) is None:
                        message = (
                            f"transform step '{s}' names feature '{feature}', which is not a column of "
                            f"table '{table}' of dataset '{dataset}' that step '{producer}' reads"
                        )
                        path = (*base, "transforms", feature)
                        yield _not_a_column(message, feature, columns or (), path)


def _is_prediction(column: str) -> bool:
    return column.lower() == PREDICTION or column.lower().startswith(f"{PREDICTION}_")


@check
def batch_output_columns(ctx: CheckContext) -> Iterator[Diagnostic]:
    """A batch job writes only the columns its output table declares (BigQuery refuses a row with
    others), one of which takes the predictions: ``prediction``. A REQUIRED column it cannot fill,
    neither a prediction nor a column of its input, makes BigQuery refuse every row."""
    for name, job in ctx.config.batch_jobs.items():
        output = job.output.bigquery
        columns = _declared_columns(ctx, output.dataset, output.table) if output is not None else None
        if output is None or columns is None:
            continue
        path: Path = ("batchJobs", name, "output", "bigquery")
        where = f"table '{output.table}' of dataset '{output.dataset}'"
        if top_level(columns, PREDICTION) is None:
            yield Diagnostic(
                "E301",
                f"batch job '{name}' writes its predictions to column '{PREDICTION}', which {where} "
                "does not declare",
                path=path,
                hint=f"add a column '{PREDICTION}' (with the type of the model's predictions) to the table",
            )
        source = job.input.bigquery
        inputs = _declared_columns(ctx, source.dataset, source.table) if source is not None else None
        served = batch_endpoint(ctx.config, job)
        if served is not None and served.protocol == "v1":
            for column in columns:
                if column.name.lower().startswith(f"{PREDICTION}_") and not top_level(
                    inputs or (), column.name
                ):
                    yield Diagnostic(
                        "E301",
                        f"column '{column.name}' of {where}, which batch job '{name}' writes, takes a "
                        f"further prediction output, but endpoint '{served.endpoint}' answers with the v1 "
                        "protocol, which has one",
                        path=path,
                        hint="remove the column, or serve the model with protocolVersion: v2",
                    )
        if source is None or inputs is None:
            continue
        for column in columns:
            if column.mode != "REQUIRED" or _is_prediction(column.name) or top_level(inputs, column.name):
                continue
            yield Diagnostic(
                "E301",
                f"column '{column.name}' of {where}, which batch job '{name}' writes, is REQUIRED but is "
                f"neither a prediction nor a column of its input, table '{source.table}' of dataset "
                f"'{source.dataset}': BigQuery would refuse every row",
                path=path,
                hint="make the column NULLABLE (left null), remove it, or add it to the input table",
            )
