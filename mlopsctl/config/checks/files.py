"""Files the config names: BigQuery schema files, the template override folder, code folders."""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Iterator

from mlopsctl.config.checks import CheckContext, check
from mlopsctl.config.diagnostics import Diagnostic, did_you_mean
from mlopsctl.config.load import MAX_BYTES
from mlopsctl.config.source import NotRegularFile, read_regular
from mlopsctl.config.sourcemap import Position
from mlopsctl.config.templates import BUILTIN_TEMPLATES, TemplateError, compile_template

MAX_RECORD_DEPTH = 15
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


def _inside(ctx: CheckContext, relative: str) -> pathlib.Path | None:
    """``relative`` resolved against the folder of mlops.yaml, or None if it leaves it or is no path."""
    try:
        path = (ctx.base_dir / relative).resolve()
    except (OSError, ValueError):
        return None
    return path if path.is_relative_to(ctx.base_dir.resolve()) else None


def _schema_problem(ctx: CheckContext, relative: str) -> str | None:
    file = _inside(ctx, relative)
    if file is None:
        return "is not a path inside the folder of mlops.yaml"
    try:
        raw = read_regular(file, MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            return f"is larger than {MAX_BYTES // 1024} KiB"
        data = json.loads(raw.decode("utf-8"))
    except NotRegularFile as exc:
        return str(exc)
    except OSError:
        return "not found"
    except UnicodeDecodeError as exc:
        return f"is not UTF-8 text (byte {exc.start + 1} is not): save it as UTF-8"
    except json.JSONDecodeError as exc:
        return f"is not valid JSON ({exc})"
    except RecursionError:
        return "nests too deeply"
    if not isinstance(data, list) or not data:
        return "must hold a non-empty JSON list of columns"
    for column, depth in _columns(data):
        if depth > MAX_RECORD_DEPTH:
            return f"nests RECORD fields deeper than {MAX_RECORD_DEPTH} levels, BigQuery's limit"
        if not isinstance(column, dict) or not isinstance(column.get("name"), str) or "type" not in column:
            return "every column needs a 'name' and a 'type'"
        unknown = set(column) - _COLUMN_KEYS
        if unknown:
            return f"unknown column field '{sorted(unknown)[0]}'"
    return None


def _columns(columns: list[object]) -> Iterator[tuple[object, int]]:
    """Every column, nested RECORD fields included, with its nesting depth (1 at the top)."""
    stack = [(column, 1) for column in reversed(columns)]
    while stack:
        column, depth = stack.pop()
        yield column, depth
        if isinstance(column, dict) and isinstance(column.get("fields"), list):
            stack.extend((field, depth + 1) for field in reversed(column["fields"]))


@check
def template_folder(ctx: CheckContext) -> Iterator[Diagnostic]:
    folder = ctx.config.project.templates
    if not folder:
        return
    path = _inside(ctx, folder)
    try:
        problem = (
            None if path is not None and path.is_dir() else "is not a folder inside the folder of mlops.yaml"
        )
    except OSError as exc:
        problem = f"cannot be read ({exc.strerror})"
    if problem:
        yield Diagnostic(
            "E311",
            f"template folder '{folder}' {problem}",
            path=("project", "templates"),
            hint="create it beside mlops.yaml (with kubernetes/<name>.yaml.j2 files) or remove 'templates'",
        )
        return
    assert path is not None
    builtin = {t.relative_to(BUILTIN_TEMPLATES).as_posix() for t in BUILTIN_TEMPLATES.rglob("*.j2")}
    found = {t.relative_to(path).as_posix(): t for t in path.rglob("*.j2")}
    for name in builtin - set(found):  # through a linked folder, which rglob does not enter but render does
        if os.path.lexists(path / name):
            found[name] = path / name
    for name, template in sorted(found.items()):
        if name not in builtin:
            yield Diagnostic(
                "E314",
                f"template '{name}' in '{folder}' replaces no built-in template, so it would never be used",
                path=("project", "templates"),
                hint=did_you_mean(name, sorted(builtin)) or f"built-ins: {', '.join(sorted(builtin))}",
            )
            continue
        try:
            compile_template(template, path)
        except TemplateError as exc:
            yield Diagnostic(
                "E314",
                f"template '{name}' in '{folder}' {exc.problem}",
                position=Position(ctx.shown(template), exc.line, exc.column),
                path=("project", "templates"),
                hint=exc.hint,
            )


@check
def code_folders(ctx: CheckContext) -> Iterator[Diagnostic]:
    """A step's ``code`` is a folder inside the project (symlinks may not lead out of it)."""
    for name, pipeline in ctx.config.pipelines.items():
        for step_name, step in pipeline.steps.items():
            if step.code is None:
                continue
            problem = _folder_problem(ctx, step.code)
            if problem:
                yield Diagnostic(
                    "E311",
                    f"code folder '{step.code}' of step '{step_name}' of pipeline '{name}' {problem}",
                    path=("pipelines", name, "steps", step_name, "code"),
                    hint="give a folder beside mlops.yaml, relative to it, that the image is built from",
                )


@check
def one_folder_per_image(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Steps that run one image build it from one folder: image builds and local runs map an image
    to the folder it is built from."""
    first: dict[str, tuple[pathlib.Path, str]] = {}  # image -> the folder it is first built from, by whom
    for name, pipeline in ctx.config.pipelines.items():
        for step_name, step in pipeline.steps.items():
            folder = _inside(ctx, step.code) if step.code is not None else None
            if step.image is None or folder is None:
                continue  # no image or no folder is reported by the image and folder checks
            who = f"step '{step_name}' of pipeline '{name}'"
            built, by = first.setdefault(step.image, (folder, f"{who} builds it from '{step.code}'"))
            if built != folder:
                yield Diagnostic(
                    "E310",
                    f"{who} builds image '{step.image}' from code folder '{step.code}', but {by}",
                    path=("pipelines", name, "steps", step_name, "code"),
                    hint=f"build '{step.image}' from one folder, or give this step an image of its own",
                )


def _folder_problem(ctx: CheckContext, relative: str) -> str | None:
    path = _inside(ctx, relative)
    if path is None:
        return "leaves the folder of mlops.yaml"
    try:
        if not path.exists():
            return "does not exist"
        return None if path.is_dir() else "is not a folder"
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
