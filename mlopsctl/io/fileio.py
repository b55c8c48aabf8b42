"""Writing files so that a reader sees the old content or the new one, never a mix."""

from __future__ import annotations

import os
import pathlib
import sys
import tempfile
from collections.abc import Callable, Mapping


def write_atomic(path: pathlib.Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename.

    The file and then its folder are synced, so that after a crash of the machine the
    path holds the old content or the new one (the rename itself is durable).
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise
    sync_dir(path.parent)


def sync_dir(folder: pathlib.Path) -> None:
    """Make the creations, renames and deletions of entries of ``folder`` durable (POSIX)."""
    if os.name != "posix":
        return  # Windows has no handle on a folder to sync; NTFS journals renames itself
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_tree(folder: pathlib.Path, files: Mapping[str, str]) -> None:
    """Write ``files`` (relative path → text) under ``folder``, syncing every file and folder.

    On Linux every file is written, then the file system is synced once (``syncfs``): thousands
    of ``fsync`` calls, a journal commit each, take seconds. Elsewhere each file is synced as it
    is written, then each folder, deepest first.
    """
    folders = {folder}
    for rel in files:
        parent = rel.rpartition("/")[0]
        while parent and folder / parent not in folders:
            folders.add(folder / parent)
            parent = parent.rpartition("/")[0]
    for each in sorted(folders, key=lambda p: len(p.parts)):
        each.mkdir(exist_ok=True)
    syncfs = _syncfs()
    for rel, text in sorted(files.items()):
        with (folder / rel).open("w", encoding="utf-8") as handle:
            handle.write(text)
            if syncfs is None:
                handle.flush()
                os.fsync(handle.fileno())
    if syncfs is not None:
        syncfs(folder)
        return
    for each in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        sync_dir(each)


def _syncfs() -> Callable[[pathlib.Path], None] | None:
    """Linux's ``syncfs``: flush the whole file system holding a folder (None elsewhere)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        call = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):  # a C library without it
        return None

    def syncfs(folder: pathlib.Path) -> None:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            if call(fd) != 0:
                errno = ctypes.get_errno()
                raise OSError(errno, os.strerror(errno), str(folder))
        finally:
            os.close(fd)

    return syncfs
