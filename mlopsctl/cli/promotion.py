"""The promote and status commands: releases moving between environments through mlops.lock."""

from __future__ import annotations

import enum
import pathlib
from typing import Annotated

import typer

from mlopsctl.cli.common import (
    DEFAULT_FILE,
    FileArg,
    FormatOpt,
    OutputFormat,
    fail,
    selection_of,
    validated,
)

DeployRepoOpt = Annotated[
    pathlib.Path | None,
    typer.Option(
        "--repo",
        metavar="DIR",
        help="The deploy repository (gitops), which tells when each region applied its release: "
        "promote requires it, and status without it cannot say.",
    ),
]


def promote(
    to: Annotated[str, typer.Option("--to", metavar="ENV", help="The environment to promote into.")],
    file: FileArg = DEFAULT_FILE,
    from_env: Annotated[
        str | None,
        typer.Option("--from", metavar="ENV", help="The source environment: the target's promotion.from."),
    ] = None,
    region: Annotated[
        list[str] | None,
        typer.Option("--region", "-r", metavar="REGION", help="Only this region of ENV (repeatable)."),
    ] = None,
    repo: DeployRepoOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would move; write nothing.")] = False,
    rollback: Annotated[
        bool, typer.Option("--rollback", help="Restore each region's previous entry of mlops.lock.")
    ] = False,
    adopt: Annotated[
        bool,
        typer.Option("--adopt", help="Pin what each region of ENV without a lock entry compiles to now."),
    ] = False,
    fmt: FormatOpt = OutputFormat.text,
) -> None:
    """Copy the source environment's release into the target's regions, in order; write mlops.lock.

    A region moves once the region before it applied the release, soaked and passed the
    gates. Only mlops.lock is written: commit it and have it reviewed.
    """
    from datetime import UTC, datetime

    from mlopsctl import api
    from mlopsctl.views import outcomes
    from mlopsctl.views.promotion import render_promotion, render_status_json

    if rollback and adopt:
        fail("give --rollback or --adopt, not both")
    mode: api.PromoteMode = "rollback" if rollback else "adopt" if adopt else "promote"
    as_json = fmt is OutputFormat.json
    with validated(
        file,
        selection_of(None, None),
        writes=not dry_run,
        json_document=as_json,
    ) as validation:
        result = api.promote(
            validation,
            file,
            to,
            from_env=from_env,
            regions=region or (),
            repo=repo,
            mode=mode,
            dry_run=dry_run,
            now=datetime.now(UTC),
        )
        if fmt is OutputFormat.json:
            typer.echo(outcomes.promotion_json(result, render_status_json(result.proposal)), nl=False)
            return
        typer.echo(render_promotion(result.proposal, validation.lock), nl=False)
        typer.echo(outcomes.promotion_tail(result, dry_run), nl=False)


class StatusFormat(enum.StrEnum):
    text = "text"
    json = "json"


def status(
    file: FileArg = DEFAULT_FILE,
    repo: DeployRepoOpt = None,
    fmt: Annotated[StatusFormat, typer.Option("--format", "-f", help="Output format.")] = StatusFormat.text,
) -> None:
    """Per environment/region: the release it runs, whether it matches its source, pending promotions."""
    from datetime import UTC, datetime

    from mlopsctl import api
    from mlopsctl.views.promotion import render_status_json, render_status_text

    as_json = fmt is StatusFormat.json
    with validated(file, selection_of(None, None), json_document=as_json) as validation:
        proposal = api.status(validation, repo, now=datetime.now(UTC))
        render = render_status_json if fmt is StatusFormat.json else render_status_text
        typer.echo(render(proposal), nl=False)
