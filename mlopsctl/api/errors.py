"""The one exception a command raises for what the user must fix, whatever stage found it."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlopsctl.config.diagnostics import Diagnostic
    from mlopsctl.config.templates import TemplateError


class UserError(Exception):
    """A failure the user fixes (a path, a lock, a refused apply, a stale plan); the message says how.

    ``located`` is true when the message is already a ``file:line:column: error ...`` diagnostic;
    ``diagnostics`` are then those diagnostics, for ``-f json`` to print with their positions.
    """

    def __init__(
        self, message: str, *, located: bool = False, diagnostics: Sequence[Diagnostic] = ()
    ) -> None:
        super().__init__(message)
        self.located = located
        self.diagnostics = tuple(diagnostics)


_STAGE_ERRORS = (
    ("mlopsctl.io.gitutil", "GitError"),
    ("mlopsctl.output", "ApplyError"),
    ("mlopsctl.plan.saved", "SavedPlanError"),
    ("mlopsctl.state.store", "StateStoreError"),
    ("mlopsctl.promote.assess", "PromotionError"),
    ("mlopsctl.run.errors", "RunError"),
)
"""The stages' exceptions whose message tells the user what to do."""

_LOCATED_ERRORS = (("mlopsctl.compiler", "LimitError"),)
"""The stages' exceptions whose message is already located diagnostics."""


_EXTRAS = (
    ("kfp", "kfp"),
    ("kfp_server_api", "kfp"),
    ("google.protobuf", "kfp"),
    ("pulumi", "pulumi"),
    ("pulumi_gcp", "pulumi"),
    ("pulumi_kubernetes", "pulumi"),
    ("kubernetes", "kubernetes"),
    ("google.cloud.aiplatform", "vertex"),
    ("google.cloud.aiplatform_v1", "vertex"),
    ("google.cloud.aiplatform_v1beta1", "vertex"),
    ("google", "gcs"),
)
"""The first module of a package -> the extra of mlopsctl that installs it."""


def missing_extra(exc: ModuleNotFoundError) -> str | None:
    """What to install when ``exc`` is a library of one of mlopsctl's extras that is missing."""
    name = exc.name or ""
    for module, extra in _EXTRAS:
        if name == module or name.startswith(module + "."):
            return (
                f"this needs {name.split('.')[0] if module != 'google.protobuf' else 'kfp'}, which the core "
                f"install leaves out: pip install 'mlopsctl[{extra}]' (or 'mlopsctl[all]')"
            )
    return None


def _is_one_of(exc: Exception, errors: tuple[tuple[str, str], ...]) -> bool:
    # A stage's exception can only have been raised once its module was imported: looking the
    # classes up in sys.modules keeps validate from importing every stage.
    return any(
        isinstance(exc, cls)
        for module, name in errors
        if (cls := getattr(sys.modules.get(module), name, None)) is not None
    )


@contextlib.contextmanager
def user_errors(file_hint: str | None = None) -> Iterator[None]:
    """Turn the stages' own errors into :class:`UserError`; ``file_hint`` names an unnamed failing path."""
    from mlopsctl.config.templates import TemplateError

    try:
        yield
    except UserError:
        raise
    except TemplateError as exc:
        raise UserError(str(exc), located=bool(exc.shown), diagnostics=_template_diagnostics(exc)) from None
    except OSError as exc:
        raise UserError(f"{exc.filename or file_hint or 'a file'}: {exc.strerror or exc}") from None
    except ModuleNotFoundError as exc:
        hint = missing_extra(exc)
        if hint is None:
            raise
        raise UserError(hint) from None
    except Exception as exc:
        if _is_one_of(exc, _STAGE_ERRORS):
            raise UserError(str(exc)) from None
        if _is_one_of(exc, _LOCATED_ERRORS):
            raise UserError(str(exc), located=True, diagnostics=getattr(exc, "diagnostics", ())) from None
        raise


def _template_diagnostics(exc: TemplateError) -> list[Diagnostic]:
    """The located E314 a template error is (none when it names no file)."""
    from mlopsctl.config.diagnostics import Diagnostic
    from mlopsctl.config.sourcemap import Position

    if not exc.shown:
        return []
    return [
        Diagnostic("E314", exc.message, hint=exc.hint, position=Position(exc.shown, exc.line, exc.column))
    ]
