"""Writing files so that a reader sees the old content or the new one, never a mix."""

from __future__ import annotations

import os
import pathlib
import tempfile
from collections.abc import Mapping


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
    """Write ``files`` (relative path → text) under ``folder``, syncing every file and folder."""
    folders = {folder}
    for rel, text in sorted(files.items()):
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        folders.update(p for p in path.parents if p.is_relative_to(folder))
        with path.open("w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    for each in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        sync_dir(each)
