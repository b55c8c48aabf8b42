"""The one exception a command raises for what the user must fix, whatever stage found it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


class UserError(Exception):
    """A failure the user fixes (a path, a lock, a refused apply, a stale plan); the message says how.

    ``located`` is true when the message is already a ``file:line:column: error ...`` diagnostic.
    """

    def __init__(self, message: str, *, located: bool = False) -> None:
        super().__init__(message)
        self.located = located


@contextlib.contextmanager
def user_errors(file_hint: str | None = None) -> Iterator[None]:
    """Turn the stages' own errors into :class:`UserError`; ``file_hint`` names an unnamed failing path."""
    from mlopsctl.config.templates import TemplateError
    from mlopsctl.io.gitutil import GitError
    from mlopsctl.output import ApplyError
    from mlopsctl.plan.saved import SavedPlanError
    from mlopsctl.promote.assess import PromotionError
    from mlopsctl.run.errors import RunError
    from mlopsctl.state.store import StateStoreError

    try:
        yield
    except UserError:
        raise
    except TemplateError as exc:
        raise UserError(str(exc), located=bool(exc.shown)) from None
    except (GitError, ApplyError, SavedPlanError, StateStoreError, PromotionError, RunError) as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(f"{exc.filename or file_hint or 'a file'}: {exc.strerror or exc}") from None
