"""The gitops target: render into a deploy repository and commit.

Layout of the deploy repository (one project per repository)::

    <env>/<region>/...                    what Argo CD or Flux syncs (see mlopsctl.output.folders)
    .mlopsctl/state/<env>/<region>.json   what was applied, for the next plan

The committed tree is the source of truth: state is read from HEAD, the new
tree is committed before the working tree is touched, and the branch moves
only if nobody committed in between. An apply that fails or is interrupted
leaves HEAD as it was (or fully applied), and a rerun completes it.

Applies from this machine also take a lock file in the repository's Git folder
(never committed), so that a second apply is refused at once, naming the first,
rather than failing at its commit. The lock outlives an apply that dies; it is
then released with ``mlopsctl force-unlock ID --repo DIR``.

An apply refuses, touching nothing, while the folders it manages (``<env>/<region>/``
of its targets and their state files) hold uncommitted changes or untracked files: it
would overwrite them. The one exception is what an apply that died left there: a
marker in the Git folder names the commit it started from, and a file whose content
is that commit's or HEAD's is the dead apply's unfinished update, not someone's work.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
from collections.abc import Callable, Iterator

from mlopsctl.config.target import Target
from mlopsctl.io import gitutil
from mlopsctl.io.fileio import write_atomic
from mlopsctl.output import ApplyError, Outcome, Release
from mlopsctl.output.folders import (
    Files,
    changes_listing,
    recover,
    remove_if_empty,
    render_target,
    target_dir,
    write_targets,
)
from mlopsctl.plan import Plan
from mlopsctl.plan.diff import summary_line
from mlopsctl.state import State, StateError, dump_state, parse_state, state_from_graph
from mlopsctl.state.lockfile import force_release, hold_lock_file
from mlopsctl.state.store import LockInfo

STATE_DIR = pathlib.PurePosixPath(".mlopsctl", "state")
LOCK_FILE = "mlopsctl.lock"
"""In the repository's Git folder: one lock for all targets, as one branch holds them all."""
SYNC_FILE = "mlopsctl.sync"
"""In the repository's Git folder while an apply commits and updates the working tree: its base commit."""
_FALLBACK_IDENTITY = {
    "GIT_AUTHOR_NAME": "mlopsctl",
    "GIT_AUTHOR_EMAIL": "mlopsctl@localhost",
    "GIT_COMMITTER_NAME": "mlopsctl",
    "GIT_COMMITTER_EMAIL": "mlopsctl@localhost",
}


def state_path(target: Target) -> str:
    return str(STATE_DIR / target.env / f"{target.region}.json")


class GitopsTarget:
    def __init__(self, repo: pathlib.Path, config: pathlib.Path | None = None) -> None:
        self.repo = repo
        self.config = config
        """The mlops.yaml applied: an apply refuses a deploy repository whose work tree holds it."""
        self._snapshot: tuple[str | None, dict[Target, State]] | None = None
        """The HEAD that ``applied`` read, and the states in it: the plan's base."""

    def _check_repo(self) -> None:
        if not self.repo.is_dir() or gitutil.toplevel(self.repo) != self.repo.resolve():
            raise ApplyError(
                f"{self.repo} is not the root of a Git repository: create it with 'git init {self.repo}'"
            )

    def lock_path(self) -> pathlib.Path:
        return self._git_dir() / LOCK_FILE

    def _git_dir(self) -> pathlib.Path:
        self._check_repo()
        return pathlib.Path(gitutil.git(["rev-parse", "--absolute-git-dir"], self.repo).decode().strip())

    @contextlib.contextmanager
    def locked(
        self, project: str, targets: tuple[Target, ...], covers: Callable[[Target], bool], operation: str
    ) -> Iterator[LockInfo]:
        """Hold the repository's lock (all targets share it); the compare-and-swap still guards the commit."""
        with hold_lock_file(self.lock_path(), operation, self._held) as info:
            yield info

    def _held(self, holder: LockInfo) -> ApplyError:
        return ApplyError(
            f"the deploy repository {self.repo} is locked by {holder.describe()}; wait for it to finish, "
            f"or if it died, run 'mlopsctl force-unlock {holder.id} --repo {self.repo}'"
        )

    def force_unlock(self, lock_id: str) -> LockInfo:
        return force_release(self.lock_path(), lock_id, f"the deploy repository {self.repo}")

    def applied(self, project: str) -> dict[Target, State]:
        """The committed state of every target; refuses a repository that holds another project, or the
        config itself (which no apply could commit to: a plan against it would promise one)."""
        self._check_repo()
        self._refuse_source_repository()
        head = gitutil.head_commit(self.repo)
        states: dict[Target, State] = {}
        self._snapshot = (head, states)
        if head is None:
            return {}
        for path, content in gitutil.files_at(self.repo, head, str(STATE_DIR)).items():
            try:
                state = parse_state(content.decode("utf-8"))
            except (StateError, UnicodeDecodeError) as exc:
                raise ApplyError(f"cannot read {path} in {self.repo}: {exc}") from None
            if path != state_path(state.target):
                raise ApplyError(f"{path} in {self.repo} holds the state of {state.target}; move it back")
            if state.project != project:
                raise ApplyError(
                    f"{self.repo} holds project '{state.project}' ({state.target}), not '{project}': "
                    "use one deploy repository per project"
                )
            states[state.target] = state
        return dict(states)

    def apply(self, plan: Plan, release: Release, removed: tuple[Target, ...]) -> Outcome:
        """Commit the release on top of the HEAD that ``applied`` read (the plan's base)."""
        if self._snapshot is None:
            self.applied(release.project)
        assert self._snapshot is not None
        base, previous = self._snapshot
        rendered = {t: render_target(g, release.project) for t, g in release.graphs.items()}
        files: dict[str, bytes] = {}
        for target, target_files in rendered.items():
            files.update(_under(target, target_files))
            state = state_from_graph(
                release.graphs[target],
                project=release.project,
                source_commit=release.source_commit,
                config_hash=release.config_hashes[target],
            )
            old = previous.get(target)
            if old is not None and _same_resources(old, state) and not _records_commit(old, state):
                state = old  # only the provenance would change: keep the record, make no commit
            files[state_path(target)] = dump_state(state).encode()
        touched = [*rendered, *removed]
        replace = [str(target_dir(t)) for t in touched] + [state_path(t) for t in touched]
        self._refuse_local_changes(replace)
        identity = {} if _has_identity(self.repo) else _FALLBACK_IDENTITY
        marker = self._git_dir() / SYNC_FILE
        write_atomic(marker, base or "")
        try:
            commit = gitutil.commit_files(
                self.repo,
                base=base,
                replace=replace,
                files=files,
                message=commit_message(plan, release),
                identity=identity,
            )
        except gitutil.GitError as exc:
            marker.unlink()
            raise ApplyError(f"nothing was committed to {self.repo}: {exc}") from None
        try:
            self._sync_worktree(rendered, removed, files, replace)
        except (gitutil.GitError, OSError) as exc:
            done = f"committed {commit[:12]}" if commit else "nothing needed committing"
            raise ApplyError(
                f"{done}, but the working tree of {self.repo} was not updated ({exc}): rerun"
            ) from None
        marker.unlink()
        if commit is None:
            return Outcome(False, "No changes. The deploy repository already holds this configuration.")
        detached = (
            ""
            if gitutil.branch(self.repo)
            else " (a detached HEAD, on no branch: push it with 'git push REMOTE HEAD:BRANCH')"
        )
        return Outcome(True, f"Committed {commit[:12]} to {self.repo}{detached}: {summary_line(plan)}")

    def _refuse_source_repository(self) -> None:
        """The deploy repository is not the one holding the config: an apply would commit the rendered
        folders and state onto the branch being worked on, beside the user's own changes."""
        if self.config is not None and self.config.resolve().is_relative_to(self.repo.resolve()):
            raise ApplyError(
                f"--repo {self.repo} holds the config {self.config} itself: apply commits to the deploy "
                "repository, so give it one of its own (git init a separate folder), which Argo CD or "
                "Flux then syncs; nothing was read or committed"
            )

    def _refuse_local_changes(self, paths: list[str]) -> None:
        """Refuse to overwrite uncommitted changes or untracked files under ``paths`` (see the module)."""
        recover(self.repo)
        found = gitutil.changes(self.repo, paths)
        marker = self._git_dir() / SYNC_FILE
        if marker.exists():
            left = [gitutil.head_commit(self.repo), marker.read_text(encoding="utf-8").strip() or None]
            found = [(code, path) for code, path in found if not self._left_by_apply(path, left)]
        if found:
            raise ApplyError(
                f"{self.repo} has uncommitted changes or untracked files in folders that apply replaces; "
                f"commit, move or delete them first (nothing was changed):{changes_listing(found)}"
            )

    def _left_by_apply(self, path: str, commits: list[str | None]) -> bool:
        """Whether ``path`` in the working tree is as one of ``commits`` has it (absent included;
        None is the empty repository)."""
        file = self.repo / path
        if file.is_symlink() or (file.exists() and not file.is_file()):
            return False
        current = file.read_bytes() if file.exists() else None
        return any(self._blob(c, path) == current for c in commits)

    def _blob(self, commit: str | None, path: str) -> bytes | None:
        return gitutil.blob_at(self.repo, commit, path) if commit else None

    def _sync_worktree(
        self,
        rendered: dict[Target, Files],
        removed: tuple[Target, ...],
        committed: dict[str, bytes],
        paths: list[str],
    ) -> None:
        """Make the working tree and index match the commit for the paths mlopsctl owns."""
        # refused local changes before committing: the working tree now lags the commit, as it should
        write_targets(self.repo, rendered, removed, overwrite_uncommitted=True)
        for target in (*rendered, *removed):
            path = self.repo / state_path(target)
            content = committed.get(state_path(target))
            if content is None:
                path.unlink(missing_ok=True)
                remove_if_empty(path.parent)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(path, content.decode())
        gitutil.git(["reset", "-q", "--", *paths], self.repo)


def _records_commit(old: State, new: State) -> bool:
    """Whether ``new`` records a committed source where ``old`` came from uncommitted changes (or none):
    promotion counts only applies of committed configs, so that is worth a commit of its own."""
    clean = new.source_commit is not None and not new.source_commit.endswith("-dirty")
    return clean and (old.source_commit is None or old.source_commit.endswith("-dirty"))


def _same_resources(old: State, new: State) -> bool:
    return (old.gcp_project, dict(old.resources)) == (new.gcp_project, dict(new.resources))


def _under(target: Target, files: Files) -> dict[str, bytes]:
    return {f"{target_dir(target)}/{rel}": content.encode() for rel, content in files.items()}


def commit_message(plan: Plan, release: Release) -> str:
    lines = [f"mlopsctl apply {release.project}: {summary_line(plan)}", ""]
    lines.append(f"Source commit: {release.source_commit or 'none (not read from a Git checkout)'}")
    lines.append("Targets:")
    for target_plan in plan.targets:
        s = target_plan.summary
        lines.append(f"  {target_plan.target}: +{s.add} ~{s.change} -{s.destroy}")
    return "\n".join(lines) + "\n"


def _has_identity(repo: pathlib.Path) -> bool:
    if os.environ.get("GIT_AUTHOR_EMAIL") and os.environ.get("GIT_COMMITTER_EMAIL"):
        return True
    try:
        return bool(gitutil.git(["config", "user.email"], repo).strip())
    except gitutil.GitError:
        return False
