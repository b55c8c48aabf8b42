"""State in a local folder: ``<folder>/<project>/<env>/<region>.json`` and a lock file beside each."""

from __future__ import annotations

import contextlib
import pathlib
from collections.abc import Iterator

from mlopsctl.config.target import Target
from mlopsctl.io.fileio import sync_dir, write_atomic
from mlopsctl.state import State, StateError, dump_state, parse_state
from mlopsctl.state.lockfile import force_release, hold_lock_file
from mlopsctl.state.store import LockHeldError, LockInfo, StateStoreError


class LocalStateStore:
    """State files written atomically (temp file, fsync, rename, fsync of the folder).

    Locks are files that outlive a dead holder (see :mod:`mlopsctl.state.lockfile`).
    """

    def __init__(self, folder: pathlib.Path) -> None:
        self.folder = folder

    def __str__(self) -> str:
        return str(self.folder)

    def state_path(self, project: str, target: Target) -> pathlib.Path:
        return self.folder / project / target.env / f"{target.region}.json"

    def lock_path(self, project: str, target: Target) -> pathlib.Path:
        return self.state_path(project, target).with_suffix(".lock")

    def targets(self, project: str) -> Iterator[Target]:
        for path in sorted((self.folder / project).glob("*/*.json")):
            if not path.name.startswith("."):  # a temporary file of an interrupted write
                yield Target(path.parent.name, path.stem)

    def read(self, project: str, target: Target) -> State | None:
        path = self.state_path(project, target)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except UnicodeDecodeError:
            raise StateStoreError(f"cannot read the state in {path}: not UTF-8 text") from None
        try:
            state = parse_state(text)
        except StateError as exc:
            raise StateStoreError(f"cannot read the state in {path}: {exc}") from None
        if (state.project, state.target) != (project, target):
            raise StateStoreError(f"{path} holds the state of {state.project} {state.target}; move it back")
        return state

    @contextlib.contextmanager
    def lock(self, project: str, target: Target, operation: str) -> Iterator[LockInfo]:
        """The target's lock; the folders taking it made are removed with it if nothing else was written
        there (an apply that could not reach its cluster leaves nothing beside the config)."""
        path = self.lock_path(project, target)
        made = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
        try:
            with hold_lock_file(path, operation, lambda holder: LockHeldError(target, holder)) as info:
                yield info
        finally:
            for folder in made:  # deepest first
                with contextlib.suppress(OSError):
                    folder.rmdir()

    def write(self, state: State) -> None:
        path = self.state_path(state.project, state.target)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, dump_state(state))

    def delete(self, project: str, target: Target) -> None:
        path = self.state_path(project, target)
        path.unlink(missing_ok=True)
        if path.parent.is_dir():
            sync_dir(path.parent)

    def force_unlock(self, project: str, target: Target, lock_id: str) -> LockInfo:
        return force_release(self.lock_path(project, target), lock_id, f"the state of {target} in {self}")
