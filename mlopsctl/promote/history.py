"""When a release was applied, read from Git history.

Rule: a region has applied a release since the committer time of the oldest commit,
in the unbroken run of deploy-repository commits (newest first) that changed the
region's state file, whose state came from a config commit (its ``source_commit``)
at which the config and mlops.lock give the region that release. A state from a
dirty or unknown source commit breaks the run.
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mlopsctl.config.load import Document, load_bytes
from mlopsctl.config.lock import LOCK_NAME, Lock, LockEntry, parse_lock
from mlopsctl.config.pins import release_pins
from mlopsctl.config.resolve import overlaid
from mlopsctl.config.target import Target
from mlopsctl.io import gitutil
from mlopsctl.output.gitops import state_path
from mlopsctl.state import StateError, parse_state


@dataclass
class ConfigRepo:
    """The Git repository holding mlops.yaml (at ``config``, relative to ``top``)."""

    top: pathlib.Path
    config: pathlib.PurePosixPath
    _documents: dict[str, tuple[Document | None, Lock]] = field(default_factory=dict)

    @classmethod
    def of(cls, config: pathlib.Path) -> ConfigRepo | None:
        top = gitutil.toplevel(config.resolve().parent)
        if top is None:
            return None
        return cls(top, pathlib.PurePosixPath(config.resolve().relative_to(top.resolve()).as_posix()))

    @property
    def lock(self) -> str:
        return str(self.config.parent / LOCK_NAME)

    def _show(self, commit: str, path: str) -> bytes | None:
        try:
            return gitutil.git(["show", f"{commit}:{path}"], self.top)
        except gitutil.GitError:
            return None

    def has(self, commit: str) -> bool:
        """Whether this clone holds ``commit`` (a shallow clone lacks older ones)."""
        try:
            gitutil.git(["cat-file", "-e", f"{commit}^{{commit}}"], self.top)
        except gitutil.GitError:
            return False
        return True

    def lock_at(self, commit: str) -> Lock:
        raw = self._show(commit, self.lock)
        return parse_lock(raw, self.lock)[0] if raw is not None else Lock(self.lock)

    def _at(self, commit: str) -> tuple[Document | None, Lock]:
        if commit not in self._documents:
            raw = self._show(commit, str(self.config))
            document = load_bytes(raw, str(self.config), self.top)[0] if raw is not None else None
            self._documents[commit] = (document, self.lock_at(commit))
        return self._documents[commit]

    def release_at(self, commit: str, target: Target) -> dict[str, str] | None:
        """The pins ``target`` ran at config ``commit`` (None if the config did not declare it)."""
        document, lock = self._at(commit)
        environments = document.data.get("environments") if document else None
        if document is None or not isinstance(environments, dict) or target.env not in environments:
            return None
        return release_pins(overlaid(document, target, lock.entries.get(target))[0])

    def lock_history(self, target: Target) -> list[LockEntry | None]:
        """The region's entry in every commit that changed mlops.lock, newest first."""
        out = gitutil.git(["log", "--format=%H", "--", self.lock], self.top).decode().split()
        return [self.lock_at(commit).entries.get(target) for commit in out]


def _log(deploy: pathlib.Path, path: str) -> list[tuple[str, int]]:
    if gitutil.head_commit(deploy) is None:
        return []
    out = gitutil.git(["log", "--format=%H %ct", "--", path], deploy).decode().split("\n")
    return [(c, int(t)) for c, t in (line.split() for line in out if line)]


def _source_at(deploy: pathlib.Path, commit: str, target: Target) -> str | None:
    """The config commit that the state of ``target`` as of deploy ``commit`` was applied from (None:
    unreadable, or not recorded); ``-dirty`` marks an apply from uncommitted changes."""
    try:
        return parse_state(
            gitutil.git(["show", f"{commit}:{state_path(target)}"], deploy).decode()
        ).source_commit
    except (gitutil.GitError, StateError, UnicodeDecodeError):
        return None


def newest_source(deploy: pathlib.Path, target: Target) -> str | None:
    """The config commit of the newest state of ``target`` in the deploy repository (None: none)."""
    newest = _log(deploy.resolve(), state_path(target))[:1]
    return _source_at(deploy, newest[0][0], target) if newest else None


def applied_since(
    deploy: pathlib.Path, target: Target, release: dict[str, str], config: ConfigRepo
) -> datetime | None:
    """Since when the deploy repository has held ``release`` for ``target`` (None: it does not)."""
    since = None
    for commit, time in _log(deploy.resolve(), state_path(target)):
        source = _source_at(deploy, commit, target)
        if not source or source.endswith("-dirty") or config.release_at(source, target) != release:
            break
        since = datetime.fromtimestamp(time, UTC)
    return since
