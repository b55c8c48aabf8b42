"""Lock files: taken atomically, holding their record, kept when their holder dies.

A lock file is created complete: its record is written to a temporary file,
synced, and hard-linked to the lock's name, which fails if the name exists. So
a reader never sees an empty or partial lock, and exactly one of several
processes taking the same lock wins. The file survives a holder that dies (a
crash, SIGKILL, a lost machine): the next apply reports who held it, and a
person decides, with force-unlock, that its apply is really gone.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import tempfile
from collections.abc import Callable, Iterator

from mlopsctl.io.fileio import sync_dir
from mlopsctl.state.locks import check_id, dump_lock, new_lock, parse_lock
from mlopsctl.state.store import LockInfo, StateStoreError

_ATTEMPTS = 3
"""Tries to take or read a lock that is released in between."""


HeldError = Callable[[LockInfo], Exception]
"""Makes the error raised when a lock is held, from the holder's record."""


def read_lock(path: pathlib.Path) -> LockInfo | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        text = ""  # not a record mlopsctl wrote: parse_lock says so
    return parse_lock(text, str(path))


@contextlib.contextmanager
def hold_lock_file(path: pathlib.Path, operation: str, held: HeldError) -> Iterator[LockInfo]:
    """Hold the lock at ``path`` for the block; if it is held, raise ``held(holder)``."""
    info = new_lock(operation)
    _take(path, info, held)
    try:
        yield info
    finally:
        _release(path, info.id)


def _take(path: pathlib.Path, info: LockInfo, held: HeldError) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(dump_lock(info))
            handle.flush()
            os.fsync(handle.fileno())
        for _ in range(_ATTEMPTS):
            try:
                os.link(tmp, path)
            except FileExistsError:
                holder = read_lock(path)
                if holder is not None:
                    raise held(holder) from None
                continue  # released between the link and the read: try again
            sync_dir(path.parent)
            return
        raise StateStoreError(f"{path} is taken and released repeatedly; try again")
    finally:
        pathlib.Path(tmp).unlink(missing_ok=True)


def _release(path: pathlib.Path, lock_id: str) -> None:
    """Delete the lock if it is still ours (force-unlock may have given it to another apply)."""
    holder = read_lock(path)
    if holder is not None and holder.id == lock_id:
        path.unlink(missing_ok=True)
        sync_dir(path.parent)


def force_release(path: pathlib.Path, lock_id: str, what: str) -> LockInfo:
    """Delete the lock at ``path`` if its id is ``lock_id``; the record released."""
    holder = read_lock(path)
    if holder is None:
        raise StateStoreError(f"{what} is not locked; nothing to unlock")
    check_id(holder, lock_id, what)
    path.unlink(missing_ok=True)
    sync_dir(path.parent)
    return holder
