"""Where mlops.yaml is read from: the working tree, or a Git commit."""

from __future__ import annotations

import contextlib
import pathlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

from mlopsctl import gitutil


@dataclass(frozen=True)
class ConfigSource:
    """An mlops.yaml on disk, the name to show for it, and the commit it was read at (if known)."""

    path: pathlib.Path
    display: str
    commit: str | None


@contextlib.contextmanager
def open_source(path: pathlib.Path, ref: str | None = None) -> Iterator[ConfigSource]:
    """The config at ``path`` as in the working tree, or as of Git ``ref``.

    For a ref, the folder holding mlops.yaml is exported from that commit into a
    temporary folder, so files it names (schemas, templates) come from the same commit.
    """
    display = str(path)
    top = gitutil.toplevel(path.resolve().parent) if path.resolve().parent.exists() else None
    if ref is None:
        commit = gitutil.head_commit(top) if top else None
        if top and commit and gitutil.is_dirty(top, path.resolve()):
            commit += "-dirty"
        yield ConfigSource(path, display, commit)
        return
    if top is None:
        raise gitutil.GitError(f"--ref needs {display} to be inside a Git repository")
    commit = gitutil.resolve_ref(top, ref)
    relative = path.resolve().relative_to(top)
    with tempfile.TemporaryDirectory(prefix="mlopsctl-ref-") as tmp:
        gitutil.export_tree(
            top, commit, relative.parent.as_posix() if relative.parent.parts else "", pathlib.Path(tmp)
        )
        yield ConfigSource(pathlib.Path(tmp) / relative, f"{display}@{ref}", commit)
