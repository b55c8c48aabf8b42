"""The few Git operations mlopsctl needs, through the git command line."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
from collections.abc import Mapping


class GitError(Exception):
    """A git command failed; the message says which and why."""


# Set by git for hooks; inherited, they would point every command at another repository.
_REPOSITORY_VARIABLES = frozenset({"GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE", "GIT_PREFIX"})


def git(
    args: list[str],
    cwd: pathlib.Path,
    *,
    input_bytes: bytes | None = None,
    env: Mapping[str, str] | None = None,
) -> bytes:
    if shutil.which("git") is None:
        raise GitError("git is not installed: install git to use Git sources or the gitops target")
    inherited = {k: v for k, v in os.environ.items() if k not in _REPOSITORY_VARIABLES}
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        input=input_bytes,
        capture_output=True,
        check=False,
        env={**inherited, **(env or {})},
    )
    if proc.returncode != 0:
        detail = proc.stderr.decode(errors="replace").strip().splitlines()
        reason = detail[-1].removeprefix("fatal: ") if detail else f"exit {proc.returncode}"
        raise GitError(f"git {args[0]} failed: {reason}")
    return proc.stdout


def toplevel(path: pathlib.Path) -> pathlib.Path | None:
    """The root of the Git work tree holding ``path``, or None outside one."""
    try:
        return pathlib.Path(git(["rev-parse", "--show-toplevel"], path).decode().strip())
    except GitError:
        return None


def head_commit(repo: pathlib.Path) -> str | None:
    try:
        return git(["rev-parse", "--verify", "--quiet", "HEAD"], repo).decode().strip() or None
    except GitError:
        return None


def resolve_ref(repo: pathlib.Path, ref: str) -> str:
    try:
        return git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], repo).decode().strip()
    except GitError:
        shallow = git(["rev-parse", "--is-shallow-repository"], repo).strip() == b"true"
        hint = (
            " (it is a shallow clone: fetch the history first, e.g. 'git fetch --unshallow')"
            if shallow
            else ""
        )
        raise GitError(f"'{ref}' is not a commit, branch or tag of the repository at {repo}{hint}") from None


def branch(repo: pathlib.Path) -> str | None:
    """The branch checked out in ``repo``, or None on a detached HEAD."""
    try:
        return git(["symbolic-ref", "--quiet", "--short", "HEAD"], repo).decode().strip()
    except GitError:
        return None


def is_dirty(repo: pathlib.Path, config: pathlib.Path) -> bool:
    """Whether the config, or a tracked file beside it, differs from HEAD (or is not committed at all)."""
    tracked = git(["status", "--porcelain", "--untracked-files=no", "--", str(config.parent)], repo)
    return bool(tracked.strip() or git(["status", "--porcelain", "--", str(config)], repo).strip())


def changes(repo: pathlib.Path, paths: list[str]) -> list[tuple[str, str]]:
    """What ``git status`` reports under ``paths``: uncommitted changes, staged or not, and untracked
    (not ignored) files, each as (two-letter status, path)."""
    out = git(
        ["status", "--porcelain", "-z", "--no-renames", "--untracked-files=all", "--", *paths],
        repo,
        env={"GIT_LITERAL_PATHSPECS": "1"},
    )
    return [(entry[:2].decode(), os.fsdecode(entry[3:])) for entry in out.split(b"\0") if entry]


def blob_at(repo: pathlib.Path, commit: str, path: str) -> bytes | None:
    """The content of ``path`` as of ``commit``, or None if it holds no such file."""
    try:
        return git(["cat-file", "blob", f"{commit}:{path}"], repo, env={"GIT_LITERAL_PATHSPECS": "1"})
    except GitError:
        return None


def export_tree(repo: pathlib.Path, commit: str, subdir: str, dest: pathlib.Path) -> None:
    """Write the files of ``subdir`` as of ``commit`` into ``dest``."""
    import io
    import tarfile

    archive = git(["archive", "--format=tar", commit, "--", subdir or "."], repo)
    try:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(dest, filter="data")
    except tarfile.TarError as exc:
        raise GitError(f"cannot export {subdir or '.'} at {commit[:12]}: {exc}") from None


def files_at(repo: pathlib.Path, commit: str, folder: str) -> dict[str, bytes]:
    """Every file under ``folder`` as of ``commit``: path → content."""
    names = git(["ls-tree", "-r", "-z", "--name-only", commit, "--", folder], repo).split(b"\0")
    return {n.decode(): git(["cat-file", "blob", f"{commit}:{n.decode()}"], repo) for n in names if n}


def commit_files(
    repo: pathlib.Path,
    *,
    base: str | None,
    replace: list[str],
    files: Mapping[str, bytes],
    message: str,
    identity: Mapping[str, str],
) -> str | None:
    """Commit ``files`` on top of ``base``, after removing everything under the ``replace`` paths.

    ``base`` is the HEAD the caller read its state from (None for a repository without
    commits). The tree is built in a private index, and the branch moves only if HEAD is
    still ``base`` (compare-and-swap), so a failure or a concurrent commit leaves the
    repository untouched. Returns the new commit, or None when the tree is unchanged.
    """
    import tempfile

    head = base
    with tempfile.TemporaryDirectory(prefix="mlopsctl-index-") as tmp:
        env = {"GIT_INDEX_FILE": str(pathlib.Path(tmp) / "index")}
        if head:
            git(["read-tree", head], repo, env=env)
        git(["rm", "-r", "-q", "--cached", "--ignore-unmatch", "--", *replace], repo, env=env)
        staged = pathlib.Path(tmp) / "files"
        paths = sorted(files)
        for number, path in enumerate(paths):
            (staged / str(number)).parent.mkdir(exist_ok=True)
            (staged / str(number)).write_bytes(files[path])
        listing = "".join(f"{staged / str(n)}\n" for n in range(len(paths))).encode()
        blobs = git(["hash-object", "-w", "--stdin-paths"], repo, input_bytes=listing).decode().split()
        entries = [f"100644 {blob}\t{path}\n" for blob, path in zip(blobs, paths, strict=True)]
        git(["update-index", "--add", "--index-info"], repo, input_bytes="".join(entries).encode(), env=env)
        tree = git(["write-tree"], repo, env=env).decode().strip()
    if head and tree == git(["rev-parse", f"{head}^{{tree}}"], repo).decode().strip():
        return None
    parents = ["-p", head] if head else []
    commit = git(["commit-tree", tree, *parents, "-F", "-"], repo, input_bytes=message.encode(), env=identity)
    new = commit.decode().strip()
    git(["update-ref", "-m", "mlopsctl apply", "HEAD", new, head or "0" * 40], repo)
    return new
