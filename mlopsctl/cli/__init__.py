"""The mlopsctl command line: parse flags, call one library function, print, exit.

Exit codes: 0 success (or no changes), 1 any error, 2 changes present (only
with ``plan --detailed-exitcode``). Usage errors exit 1, never 2, because CI
reads 2 as "changes". Heavy modules are imported inside the commands so that
``--help`` stays fast.

The commands live in one module per group; this module registers them, in the
order ``--help`` lists them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any

import typer

# typer (from 0.29, the floor in pyproject.toml) vendors click and does not re-export its UsageError.
from typer._click.exceptions import UsageError
from typer.core import TyperGroup

from mlopsctl.cli import checks, deploy, promotion, reference, runs
from mlopsctl.cli.common import JSON_REQUESTED, ChangesPresent, asks_for_json, print_usage_error, refusals

if TYPE_CHECKING:
    from typer._click import Context


@contextlib.contextmanager
def _usage_errors(as_json: bool, group: Context | None = None) -> Iterator[None]:
    """A usage error (unknown option, missing argument, bad choice) under ``-f json`` is one JSON
    document of diagnostics, as an invalid config's, and exits 1; otherwise click prints the usage.
    ``group`` names the command when click's error does not (an option missing its value)."""
    try:
        yield
    except UsageError as exc:
        # typer's coercion words a bad choice as pydantic does: "Value error, 'xml' is not one of ..."
        exc.message = exc.message.removeprefix("Value error, ")
        if not as_json:
            raise
        if exc.ctx is not None:
            command = exc.ctx.command_path
        elif group is not None:
            command = " ".join(filter(None, (group.command_path, group.invoked_subcommand)))
        else:
            command = "mlopsctl"
        print_usage_error(exc.format_message(), command)
        raise typer.Exit(1) from None


class _Group(TyperGroup):
    def make_context(
        self, info_name: str | None, args: list[str], parent: Context | None = None, **extra: Any
    ) -> Context:
        as_json = asks_for_json(args)  # read before parsing, which consumes args
        with _usage_errors(as_json):
            ctx = super().make_context(info_name, args, parent, **extra)
        ctx.meta[JSON_REQUESTED] = as_json
        return ctx

    def invoke(self, ctx: Context) -> Any:
        as_json = ctx.meta.get(JSON_REQUESTED, False)
        with _usage_errors(as_json, ctx), refusals(as_json):  # the command's own options, parsed here
            return super().invoke(ctx)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        from mlopsctl.api.errors import UserError, missing_extra

        try:
            return super().main(*args, **kwargs)
        except UserError as exc:  # the user's to fix: a message, never a traceback
            typer.echo(str(exc) if exc.located else f"error: {exc}", err=True)
            raise SystemExit(1) from None
        except ModuleNotFoundError as exc:
            hint = missing_extra(exc)
            if hint is None:
                raise
            typer.echo(f"error: {hint}", err=True)
            raise SystemExit(1) from None
        except ChangesPresent:
            raise SystemExit(2) from None
        except SystemExit as exc:
            if exc.code == 2:  # a usage error: CI must not read it as "changes"
                raise SystemExit(1) from None
            raise


app = typer.Typer(
    cls=_Group,
    name="mlopsctl",
    help="Compile mlops.yaml into Google Cloud infrastructure and Kubernetes manifests; plan and apply it.",
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.command()(checks.validate)
app.command()(deploy.plan)
app.command()(checks.check)
app.command()(deploy.render)
app.command()(deploy.apply)
app.command("force-unlock")(deploy.force_unlock)
app.command()(promotion.promote)
app.command()(promotion.status)
app.command()(reference.platform)
app.command()(runs.run)
app.command()(reference.schema)
app.command()(reference.codes)


def _version(value: bool) -> None:
    if value:
        from mlopsctl import __version__

        typer.echo(f"mlopsctl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    pass


def main() -> None:
    import gc
    import os

    # pydantic looks for plugins among all installed distributions' entry points on first use,
    # which costs a tenth of validate; mlopsctl's models use none.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    # A command builds large trees of mostly acyclic values and exits: the cyclic collector's default
    # thresholds scan them again and again (a quarter of a large plan). Collect rarely instead.
    gc.set_threshold(50_000, 20, 100)
    app()
