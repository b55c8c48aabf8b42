"""Where mlops.yaml is read from: the working tree, or a Git commit."""

from __future__ import annotations

import contextlib
import os
import pathlib
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from mlopsctl.io import gitutil


@dataclass(frozen=True)
class ConfigSource:
    """An mlops.yaml on disk, the name to show for it, and the commit it was read at (if known)."""

    path: pathlib.Path
    display: str
    commit: str | None


_SPECIAL = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class NotRegularFile(OSError):
    """A path names a directory, FIFO, device or socket, which is never read."""


def _refuse_special(mode: int) -> None:
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _SPECIAL if test(mode)), "a special file")
        raise NotRegularFile(f"is {kind}, not a regular file")


@contextlib.contextmanager
def open_regular(path: pathlib.Path) -> Iterator[BinaryIO]:
    """The regular file ``path``, open for reading.

    A directory, FIFO, device or socket raises :class:`NotRegularFile` before any of it is read:
    the path is checked with ``os.stat`` before it is opened (opening a FIFO would wait for a
    writer), and the opened file is checked again, in case the path was replaced in between.
    """
    _refuse_special(os.stat(path).st_mode)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    with os.fdopen(fd, "rb") as handle:
        _refuse_special(os.fstat(fd).st_mode)
        yield handle


def read_regular(path: pathlib.Path, limit: int) -> bytes:
    """At most ``limit`` bytes of the regular file ``path`` (see :func:`open_regular`)."""
    with open_regular(path) as handle:
        return handle.read(limit)


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
        raise gitutil.GitError(f"{display} is not in a Git repository, so it has no version '{ref}' to read")
    commit = gitutil.resolve_ref(top, ref)
    relative = path.resolve().relative_to(top)
    with tempfile.TemporaryDirectory(prefix="mlopsctl-ref-") as tmp:
        gitutil.export_tree(
            top, commit, relative.parent.as_posix() if relative.parent.parts else "", pathlib.Path(tmp)
        )
        yield ConfigSource(pathlib.Path(tmp) / relative, f"{display}@{ref}", commit)
