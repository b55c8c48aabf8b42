"""Opening a project's config: the first step of every command, and all that ``validate`` needs."""

from __future__ import annotations

import contextlib
import pathlib
from collections.abc import Iterator

from mlopsctl.api.errors import user_errors
from mlopsctl.config.project import ALL, Selection, Validation, validate


@contextlib.contextmanager
def open_config(
    file: pathlib.Path, ref: str | None = None, selection: Selection = ALL
) -> Iterator[Validation]:
    """Validate ``file`` (as of Git ``ref``) and keep its source open while the command runs.

    Every failure the user must fix while the block runs becomes a :class:`UserError`."""
    from mlopsctl.config.source import open_source

    with user_errors(str(file)), open_source(file, ref) as source:
        yield validate(source, selection)
