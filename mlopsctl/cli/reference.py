"""Commands that print reference material: the add-ons a config's clusters need, the schema, the codes."""

from __future__ import annotations

import enum
import json
import pathlib
from typing import Annotated

import typer

from mlopsctl.cli.common import (
    DEFAULT_FILE,
    EnvOpt,
    FileArg,
    FormatOpt,
    OutputFormat,
    RegionOpt,
    fail,
    refuse_unwritable_file,
    selection_of,
    validated,
)


class PlatformFormat(enum.StrEnum):
    text = "text"
    json = "json"


def platform(
    file: FileArg = DEFAULT_FILE,
    env: EnvOpt = None,
    region: RegionOpt = None,
    fmt: Annotated[
        PlatformFormat, typer.Option("--format", "-f", help="Output format.")
    ] = PlatformFormat.text,
) -> None:
    """Per cluster: each add-on its workloads need, its exact version, how it is installed, and why."""
    from mlopsctl import api
    from mlopsctl.views.platform import render_json, render_text

    as_json = fmt is PlatformFormat.json
    with validated(file, selection_of(env, region), report_valid=False, json_document=as_json) as validation:
        report = api.platform(validation)
        typer.echo((render_json if fmt is PlatformFormat.json else render_text)(report), nl=False)


def schema(
    out: Annotated[
        pathlib.Path | None,
        typer.Option(
            "--out",
            "-o",
            metavar="FILE",
            help="Write the schema to FILE (e.g. .mlopsctl/mlops.schema.json) instead of printing it.",
        ),
    ] = None,
    fmt: Annotated[
        OutputFormat | None,
        typer.Option(
            "--format",
            "-f",
            help="With --out, what to print: text (the default) or json. The schema is JSON.",
        ),
    ] = None,
) -> None:
    """Print the JSON Schema of mlops.yaml, or write it into your project for your editor and print the
    line that starts mlops.yaml with it (README: "A tour of mlops.yaml")."""
    from mlopsctl.config.schema import schema_text

    if out is None:
        typer.echo(schema_text(), nl=False)
        return
    from mlopsctl.io.fileio import write_atomic

    refuse_unwritable_file(  # its folder may be new, e.g. .mlopsctl/, as the README has it
        "--out", out, creates_folder=True, writes=("a JSON Schema 'mlopsctl schema' wrote", "$schema")
    )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(out, schema_text())
    except OSError as exc:
        fail(f"--out {out}: {exc.strerror or exc}")
    line = f"# yaml-language-server: $schema={_relative_to_cwd(out)}"
    if fmt is OutputFormat.json:
        typer.echo(json.dumps({"schema": str(out), "modeline": line}))
    else:
        typer.echo(f"Wrote {out}. Point your editor at it with this first line in mlops.yaml:\n{line}")


def _relative_to_cwd(path: pathlib.Path) -> str:
    try:
        return path.resolve().relative_to(pathlib.Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def codes(fmt: FormatOpt = OutputFormat.text) -> None:
    """Print the table of diagnostic codes (Markdown, or JSON: code -> title and meaning)."""
    from mlopsctl.config.diagnostics import CODES, codes_markdown

    if fmt is OutputFormat.json:
        doc = {code: {"title": title, "meaning": text} for code, (title, text) in sorted(CODES.items())}
        typer.echo(json.dumps(doc, indent=2))
        return
    typer.echo(codes_markdown(), nl=False)
