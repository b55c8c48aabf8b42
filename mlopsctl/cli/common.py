"""What the commands share: the config argument, the selection options, diagnostics, validation."""

from __future__ import annotations

import contextlib
import enum
import itertools
import pathlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Annotated, NoReturn, TextIO

import typer

if TYPE_CHECKING:
    from mlopsctl.api import Selection, Validation
    from mlopsctl.config.diagnostics import Diagnostic


class ChangesPresent(Exception):
    """Raised by ``plan --detailed-exitcode`` to exit 2."""


class DiagnosticFormat(enum.StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"
    github = "github"


FileArg = Annotated[pathlib.Path, typer.Argument(help="The config file.", show_default=True, metavar="FILE")]
EnvOpt = Annotated[
    list[str] | None, typer.Option("--env", "-e", metavar="ENV", help="Only this environment (repeatable).")
]
RegionOpt = Annotated[
    list[str] | None, typer.Option("--region", "-r", metavar="REGION", help="Only this region (repeatable).")
]
RefOpt = Annotated[
    str | None,
    typer.Option("--ref", metavar="REF", help="Read the config as of this Git commit, branch or tag."),
]
DEFAULT_FILE = pathlib.Path("mlops.yaml")


def echo_chunks(chunks: Iterable[str], batch: int = 1 << 20) -> None:
    """Write ``chunks`` to standard output about ``batch`` characters at a time, colour kept (a large
    plan is written as it is rendered, never held whole)."""
    pending: list[str] = []
    size = 0
    for chunk in chunks:
        pending.append(chunk)
        size += len(chunk)
        if size >= batch:
            typer.echo("".join(pending), nl=False, color=True)
            pending, size = [], 0
    if pending:
        typer.echo("".join(pending), nl=False, color=True)


def err(message: str) -> None:
    typer.echo(message, err=True)


def fail(message: str) -> NoReturn:
    """Refuse the command line: ``error: MESSAGE`` on stderr, or, when it asked for ``-f json``, the
    JSON document of diagnostics that a usage error prints; exit 1."""
    from typer._click.globals import get_current_context

    ctx = get_current_context(silent=True)
    if ctx is not None and ctx.meta.get(JSON_REQUESTED, False):
        print_usage_error(message, ctx.command_path)
    else:
        err(f"error: {message}")
    raise typer.Exit(1)


def refuse_unwritable_file(
    option: str, path: pathlib.Path, *, creates_folder: bool = False, writes: tuple[str, str] | None = None
) -> None:
    """Refuse, before any work is done or printed, a file ``option`` could not write: a folder at
    ``path``, or its folder missing (unless the command ``creates_folder``) or blocked by a file.
    With ``writes`` (what the command writes, and a key of the JSON object it writes), a device, FIFO
    or socket at ``path`` is refused, and so is a file that is not such a JSON object: it would be
    replaced (a user's mlops.yaml, notes, /dev/null), not written to."""
    if path.is_dir():
        fail(f"{option} {path}: that is a folder; give the path of a file to write")
    folder = path.parent
    if not creates_folder and not folder.exists():
        fail(f"{option} {path}: folder {folder} does not exist; create it or choose another path")
    _refuse_file_in_the_way(option, path, folder)
    if writes is not None and (path.exists() or path.is_symlink()) and not _holds(path, writes[1]):
        fail(
            f"{option} {path}: that file exists and is not {writes[0]}, which is all this would replace; "
            "choose another path, or move the file first"
        )


def _holds(path: pathlib.Path, key: str) -> bool:
    """Whether ``path`` is a regular file (not a link) of a JSON object with ``key``."""
    import json

    from mlopsctl.config.source import read_regular

    if path.is_symlink():
        return False
    if path.is_file() and path.stat().st_size == 0:
        return True  # an empty file (mktemp's) holds nothing to lose
    try:
        document = json.loads(read_regular(path, 64 * 1024 * 1024))
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(document, dict) and key in document


def refuse_unwritable_folder(option: str, path: pathlib.Path) -> None:
    """Refuse, before any work, a folder ``option`` would create (with its parents) where a file is."""
    _refuse_file_in_the_way(option, path, path)


def _refuse_file_in_the_way(option: str, path: pathlib.Path, folder: pathlib.Path) -> None:
    existing = next(p for p in (folder, *folder.parents) if p.exists())  # "." or "/" at the latest
    if not existing.is_dir():
        fail(f"{option} {path}: {existing} is a file, not a folder; choose another path")


def selection_of(env: list[str] | None, region: list[str] | None) -> Selection:
    from mlopsctl.api import Selection

    return Selection(tuple(env or ()), tuple(region or ()))


@contextlib.contextmanager
def validated(
    file: pathlib.Path,
    selection: Selection,
    ref: str | None = None,
    fmt: DiagnosticFormat = DiagnosticFormat.text,
    *,
    writes: bool = False,
    report_valid: bool = True,
    json_document: bool = False,
) -> Iterator[Validation]:
    """Validate ``file``; print diagnostics; exit 1 on errors (nothing else runs).

    With ``report_valid`` false, the diagnostics of a valid config are left to the command. With
    ``json_document`` (a command's ``-f json``, whose stdout is one JSON document) an invalid config's
    diagnostics are that document, as ``validate -f json`` prints them, and a valid one's go to stderr.
    """
    from mlopsctl import api

    with api.open_config(file, ref, selection) as validation:
        display = validation.source.display
        if validation.ok:
            if report_valid:
                print_diagnostics(
                    validation.diagnostics, DiagnosticFormat.text if json_document else fmt, file=display
                )
            with _closing_line(
                file, display, writes, text=fmt is DiagnosticFormat.text and not json_document
            ):
                yield validation
            return
        fmt = DiagnosticFormat.json if json_document else fmt
        print_diagnostics(validation.diagnostics, fmt, file=display)
        if fmt is DiagnosticFormat.text:
            _close(display, sum(d.is_error for d in validation.diagnostics), writes)
        raise typer.Exit(1)


def _close(display: str, errors: int, writes: bool) -> None:
    """The line a command's errors end with, in text: how many, and that nothing was written."""
    from mlopsctl.config.diagnostics import plural

    err(f"{display}: {plural(errors, 'error')}{'; nothing was written' if writes else ''}")


@contextlib.contextmanager
def _closing_line(file: pathlib.Path, display: str, writes: bool, *, text: bool) -> Iterator[None]:
    """Located errors a command finds after validation (a template's E314, a limit only the compiled
    resources show) end, in text, with the line an invalid config's errors end with."""
    from mlopsctl.api.errors import UserError, user_errors

    try:
        with user_errors(str(file)):  # as open_config names an unnamed failing path
            yield
    except UserError as exc:
        if not (exc.located and text):
            raise
        err(str(exc))
        _close(display, sum(d.is_error for d in exc.diagnostics) or 1, writes)
        raise typer.Exit(1) from None


class OutputFormat(enum.StrEnum):
    text = "text"
    json = "json"


FormatOpt = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")]
USAGE = "usage"
"""The code of a usage error printed as a diagnostic (``-f json``): the command line, not a file, is wrong."""
REFUSED = "refused"
"""The code of a refusal of the library printed as a diagnostic (``-f json``): an unknown NAME, a
``--param`` of the wrong type, missing sample data, a service that cannot be reached..."""
JSON_REQUESTED = "mlopsctl.cli.json"
"""The key of ``Context.meta`` that tells whether the command line asked for ``-f json``."""


def asks_for_json(argv: Sequence[str]) -> bool:
    """Whether a command line, not parsed yet (or not parseable), asks for ``-f json``."""
    args = list(itertools.takewhile(lambda arg: arg != "--", argv))
    return any(
        arg in ("--format=json", "-fjson") or (arg in ("-f", "--format") and value == "json")
        for arg, value in itertools.pairwise([*args, ""])
    )


@contextlib.contextmanager
def refusals(as_json: bool) -> Iterator[None]:
    """Under ``-f json`` what the library refuses is, like a usage error, one JSON document of
    diagnostics on stdout, exit 1; otherwise it propagates, and the command line prints ``error: ...``."""
    from mlopsctl.api.errors import UserError
    from mlopsctl.config.diagnostics import Diagnostic

    try:
        yield
    except UserError as exc:
        if not as_json:
            raise
        found = list(exc.diagnostics) or [Diagnostic(REFUSED, one_line(str(exc)))]
        print_diagnostics(found, DiagnosticFormat.json)
        raise typer.Exit(1) from None


def one_line(message: str) -> str:
    """A refusal of several lines (a sentence, then what it lists: files, resources) as one line, as a
    diagnostic's message is: ``first line: item, item``."""
    first, *rest = [line.strip() for line in message.splitlines() if line.strip()] or [""]
    return f"{first} {', '.join(rest)}" if rest else first


def print_usage_error(message: str, command: str) -> None:
    """A usage error as ``-f json`` prints an invalid config: a JSON document of diagnostics."""
    from mlopsctl.config.diagnostics import Diagnostic

    print_diagnostics([Diagnostic(USAGE, message, hint=f"see '{command} --help'")], DiagnosticFormat.json)


def progress(*, always: bool, stream: TextIO | None = None) -> Callable[[str], None]:
    """A reporter of what a long command is doing, for a person at a terminal: on ``stream``
    (stderr) when it is one, every step when ``always``, else only once the command has run for
    more than two seconds (a large render). Logs and pipes get no progress lines."""
    import sys
    import time

    out = stream or sys.stderr
    shown = out.isatty()
    started = time.monotonic()

    def report(line: str) -> None:
        if shown and (always or time.monotonic() - started > 2):
            print(f"{line}...", file=out, flush=True)

    return report


def print_diagnostics(
    diagnostics: list[Diagnostic],
    fmt: DiagnosticFormat,
    rules: dict[str, tuple[str, str]] | None = None,
    file: str | None = None,
) -> None:
    """Diagnostics in ``fmt``: text on stderr, the others (one document) on stdout; ``file`` is the
    config, where SARIF places findings about no line."""
    from mlopsctl import __version__
    from mlopsctl.views.diagnostics import render_github, render_json, render_sarif

    if fmt is DiagnosticFormat.json:
        typer.echo(render_json(diagnostics))
    elif fmt is DiagnosticFormat.sarif:
        typer.echo(render_sarif(diagnostics, __version__, rules, file))
    elif fmt is DiagnosticFormat.github:
        if diagnostics:
            typer.echo(render_github(diagnostics))
    else:
        for diagnostic in diagnostics:
            err(diagnostic.to_text())
