"""The few Git operations mlopsctl needs, through the git command line."""

from __future__ import annotations

import pathlib
import shutil
import subprocess


class GitError(Exception):
    """A git command failed; the message says which and why."""


def git(args: list[str], cwd: pathlib.Path, *, input_bytes: bytes | None = None) -> bytes:
    if shutil.which("git") is None:
        raise GitError("git is not installed: install git to use Git sources or the gitops target")
    proc = subprocess.run(["git", *args], cwd=cwd, input=input_bytes, capture_output=True, check=False)
    if proc.returncode != 0:
        detail = proc.stderr.decode(errors="replace").strip().splitlines()
        raise GitError(
            f"git {' '.join(args)} failed: {detail[-1] if detail else 'exit ' + str(proc.returncode)}"
        )
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
    return git(["rev-parse", "--verify", f"{ref}^{{commit}}"], repo).decode().strip()


def export_tree(repo: pathlib.Path, commit: str, subdir: str, dest: pathlib.Path) -> None:
    """Write the files of ``subdir`` as of ``commit`` into ``dest``."""
    import io
    import tarfile

    archive = git(["archive", "--format=tar", commit, "--", subdir or "."], repo)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
