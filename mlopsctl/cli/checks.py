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
    fail,
    print_diagnostics,
    selection_of,
    validated,
)
from mlopsctl.cli.targets import applied_at_ref, apply_target


def validate(
    files: Annotated[
        list[pathlib.Path] | None,
        typer.Argument(help="The config files (default: mlops.yaml).", metavar="[FILE]..."),
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
    from mlopsctl.config.diagnostics import plural
    from mlopsctl.policies.run import all_policies, check, rules

    if repo is not None and base is not None:
        fail("give --repo or --base, not both")
    applier = apply_target(None, repo, file, None)
    selection = selection_of(env, region)
    with validated(file, selection, None, fmt, report_valid=False) as validation:
        graphs = api.compile_graphs(validation)
        plan = None
        if base is not None:
            plan, _ = api.make_plan(validation, graphs, applied_at_ref(file, base), selection)
        elif applier is not None:
            plan, _ = api.make_plan(validation, graphs, applier.applied(validation.project), selection)
        policies = all_policies()
        found = validation.diagnostics + check(validation, graphs, policies, plan)
        print_diagnostics(found, fmt, rules(policies), validation.source.display)
        errors = sum(d.is_error for d in found)
        if fmt is DiagnosticFormat.text:
            counts = f"{plural(errors, 'error')}, {plural(len(found) - errors, 'warning')}"
            typer.echo(f"{validation.source.display}: {counts}.")
    if errors:
        raise typer.Exit(1)
