"""Files the config names: BigQuery schema files and the template override folder."""

from __future__ import annotations

import json
from collections.abc import Iterator

from mlopsctl.config.checks import CheckContext, check
from mlopsctl.diagnostics import Diagnostic

_COLUMN_KEYS = {
    "name",
    "type",
    "mode",
    "description",
    "fields",
    "policyTags",
    "maxLength",
    "precision",
    "scale",
    "defaultValueExpression",
    "collation",
    "roundingMode",
}


@check
def schema_files(ctx: CheckContext) -> Iterator[Diagnostic]:
    for ds_key, dataset in ctx.config.data.datasets.items():
        for table_key, table in dataset.tables.items():
            if table.schema_file is None:
                continue
            path = ("data", "datasets", ds_key, "tables", table_key, "schemaFile")
            problem = _schema_problem(ctx, table.schema_file)
            if problem:
                yield Diagnostic(
                    "E311",
                    f"schema file '{table.schema_file}': {problem}",
                    path=path,
                    hint="give a path relative to mlops.yaml of a BigQuery JSON schema "
                    "(a list of {name, type, mode} objects)",
                )


def _schema_problem(ctx: CheckContext, relative: str) -> str | None:
    file = (ctx.base_dir / relative).resolve()
    if not file.is_relative_to(ctx.base_dir.resolve()):
        return "is outside the folder of mlops.yaml"
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError:
        return "not found"
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return f"is not valid JSON ({exc})"
    if not isinstance(data, list) or not data:
        return "must hold a non-empty JSON list of columns"
    for column in _columns(data):
        if not isinstance(column, dict) or not isinstance(column.get("name"), str) or "type" not in column:
            return "every column needs a 'name' and a 'type'"
        unknown = set(column) - _COLUMN_KEYS
        if unknown:
            return f"unknown column field '{sorted(unknown)[0]}'"
    return None


def _columns(columns: list[object]) -> Iterator[object]:
    for column in columns:
        yield column
        if isinstance(column, dict) and isinstance(column.get("fields"), list):
            yield from _columns(column["fields"])


@check
def template_folder(ctx: CheckContext) -> Iterator[Diagnostic]:
    folder = ctx.config.project.templates
    if folder and not (ctx.base_dir / folder).is_dir():
        yield Diagnostic(
            "E311",
            f"template folder '{folder}' does not exist",
            path=("project", "templates"),
            hint="create it (with kubernetes/<name>.yaml.j2 files) or remove 'templates'",
        )
