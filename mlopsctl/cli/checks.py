"""The validate and check commands: diagnostics about a config and the policies over what it compiles to."""

from __future__ import annotations

import pathlib
from typing import Annotated

import typer

from mlopsctl.cli.common import (
    DEFAULT_FILE,
    DiagnosticFormat,
    EnvOpt,
    FileArg,
    RefOpt,
    RegionOpt,
    err,
    fail,
    print_diagnostics,
    selection_of,
    validated,
)


def validate(
    files: Annotated[
        list[pathlib.Path] | None,
        typer.Argument(help="The config files (default: mlops.yaml).", metavar="FILE"),
    ] = None,
    env: EnvOpt = None,
    region: RegionOpt = None,
    fmt: Annotated[
        DiagnosticFormat, typer.Option("--format", "-f", help="Output format.")
    ] = DiagnosticFormat.text,
    ref: RefOpt = None,
) -> None:
    """Check configs: syntax, schema, references and cloud limits. Exit 1 on any error."""
    paths = files or [DEFAULT_FILE]
    if len(paths) > 1 and fmt in (DiagnosticFormat.json, DiagnosticFormat.sarif):
        fail(f"--format {fmt.value} reports on one FILE; run once per file")
    failed = 0
    for file in paths:
        try:
            with validated(file, selection_of(env, region), ref, fmt) as validation:
                if fmt is DiagnosticFormat.text:
                    targets = ", ".join(str(t) for t in validation.targets)
                    typer.echo(f"{validation.source.display} is valid ({targets}).")
        except typer.Exit as exc:
            failed += exc.exit_code != 0
    if failed:
        raise typer.Exit(1)


def check(
    file: FileArg = DEFAULT_FILE,
    env: EnvOpt = None,
    region: RegionOpt = None,
    fmt: Annotated[
        DiagnosticFormat, typer.Option("--format", "-f", help="Output format.")
    ] = DiagnosticFormat.text,
    repo: Annotated[
        pathlib.Path | None,
        typer.Option(
            "--repo", metavar="DIR", help="Also check what applying to this deploy repository would destroy."
        ),
    ] = None,
    base: Annotated[
        str | None,
        typer.Option(
            "--base",
            metavar="REF",
            help="Also check what changes from the config as of this Git ref destroy.",
        ),
    ] = None,
) -> None:
    """Enforce the policies (docs/policies.md) over the compiled graphs. Exit 1 on any error finding."""
    from mlopsctl import api
    from mlopsctl.views.outcomes import diagnostics_summary

    with validated(file, selection_of(env, region), None, fmt, report_valid=False) as validation:
        result = api.check(validation, file, selection_of(env, region), repo=repo, base=base)
        print_diagnostics(result.findings, fmt, result.rules, validation.source.display)
        if fmt is DiagnosticFormat.text:
            typer.echo(diagnostics_summary(result.findings, validation.source.display), nl=False)
        for note in result.notes:
            err(f"note: {note}")
    if result.errors:
        raise typer.Exit(1)
