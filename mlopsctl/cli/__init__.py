"""The mlopsctl command line: parse flags, call one library function, print, exit.

Exit codes: 0 success (or no changes), 1 any error, 2 changes present (only
with ``plan --detailed-exitcode``). Usage errors exit 1, never 2, because CI
reads 2 as "changes". Heavy modules are imported inside the commands so that
``--help`` stays fast.

The commands live in one module per group; this module registers them, in the
order ``--help`` lists them.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from mlopsctl.cli import checks, deploy, promotion, reference, runs
from mlopsctl.cli.common import ChangesPresent


class _Group(TyperGroup):
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
