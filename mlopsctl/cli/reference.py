"""Commands that print reference material: the add-ons a config's clusters need, the schema, the codes."""

from __future__ import annotations

import enum
from typing import Annotated

import typer

from mlopsctl.cli.common import DEFAULT_FILE, EnvOpt, FileArg, RegionOpt, selection_of, validated


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

    with validated(file, selection_of(env, region), report_valid=False) as validation:
        report = api.platform(validation, api.compile_graphs(validation))
        typer.echo((render_json if fmt is PlatformFormat.json else render_text)(report), nl=False)


def schema() -> None:
    """Print the JSON Schema of mlops.yaml."""
    from mlopsctl.config.schema import schema_text

    typer.echo(schema_text(), nl=False)


def codes() -> None:
    """Print the table of diagnostic codes (Markdown)."""
    from mlopsctl.config.diagnostics import codes_markdown

    typer.echo(codes_markdown(), nl=False)
