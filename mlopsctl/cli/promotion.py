"""The promote and status commands: releases moving between environments through mlops.lock."""

from __future__ import annotations

import enum
import pathlib
from typing import Annotated

import typer

from mlopsctl.cli.common import DEFAULT_FILE, FileArg, fail, selection_of, validated

DeployRepoOpt = Annotated[
    pathlib.Path | None,
    typer.Option(
        "--repo",
        metavar="DIR",
        help="The deploy repository (gitops): when each region applied its release (promote needs it).",
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
) -> None:
    """Copy the source environment's release into the target's regions, in order; write mlops.lock.

    A region moves once the region before it applied the release, soaked and passed the
    gates. Only mlops.lock is written: commit it and have it reviewed.
    """
    from datetime import UTC, datetime

    from mlopsctl.config.lock import dump_lock, lock_path
    from mlopsctl.io.fileio import write_atomic
    from mlopsctl.promote import commands
    from mlopsctl.promote.assess import PromotionError
    from mlopsctl.views.promotion import render_promotion

    if (rollback or adopt) and from_env is not None:
        fail("--rollback and --adopt pin releases of the target itself: they take no --from")
    if rollback and adopt:
        fail("give --rollback or --adopt, not both")
    with validated(file, selection_of(None, None), writes=not dry_run) as validation:
        p = commands.promoter(validation, repo, datetime.now(UTC))
        try:
            if rollback:
                proposal = commands.rollback(p, to, region or ())
            elif adopt:
                proposal = commands.adopt(p, to, region or ())
            else:
                proposal = commands.promote(p, to, from_env, region or ())
        except PromotionError as exc:
            fail(str(exc))
        typer.echo(render_promotion(proposal, validation.lock), nl=False)
        moved = ", ".join(str(t) for t in proposal.moved)
        if not proposal.moved:
            typer.echo("Nothing to promote now.")
        elif dry_run:
            typer.echo(f"Dry run: would write {lock_path(file)} for {moved}; nothing was written.")
        else:
            write_atomic(lock_path(file), dump_lock(proposal.lock))
            typer.echo(f"Wrote {lock_path(file)} for {moved}. Commit it for review, then apply once merged.")


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

    from mlopsctl.promote import commands
    from mlopsctl.views.promotion import render_status_json, render_status_text

    with validated(file, selection_of(None, None)) as validation:
        proposal = commands.status(commands.promoter(validation, repo, datetime.now(UTC)))
        render = render_status_json if fmt is StatusFormat.json else render_status_text
        typer.echo(render(proposal), nl=False)
