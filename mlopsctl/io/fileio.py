"""Writing files so that a reader sees the old content or the new one, never a mix."""

from __future__ import annotations

import contextlib
import errno
import os
import pathlib
import secrets
import stat
import sys
from collections.abc import Callable, Mapping


def write_atomic(path: pathlib.Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename.

    The file and then its folder are synced, so that after a crash of the machine the
    path holds the old content or the new one (the rename itself is durable). The file keeps
    the permission bits of the one it replaces; a new file gets what the umask leaves of 0o666.
    """
    fd, tmp = _create_beside(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            with contextlib.suppress(FileNotFoundError):
                mode = stat.S_IMODE(os.stat(path).st_mode)
                os.chmod(handle.fileno() if os.chmod in os.supports_fd else tmp, mode)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise
    sync_dir(path.parent)


def _create_beside(path: pathlib.Path) -> tuple[int, str]:
    """A new, empty temporary file beside ``path``, open for writing. Unlike ``mkstemp``'s 0o600,
    it is created with mode 0o666, which the kernel narrows by the umask (and a folder's default ACL)
    as for any new file, without reading or changing the process-wide umask."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = str(path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free name for a temporary file", str(path.parent))


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
