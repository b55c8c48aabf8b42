"""Git repositories for tests: a deploy repository and a committed config (pytest fixtures)."""

from __future__ import annotations

import pathlib
import subprocess

import pytest
from helpers import WITH_DATA, write


def git(repo: pathlib.Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def deploy(tmp_path: pathlib.Path) -> pathlib.Path:
    repo = tmp_path / "deploy"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    return repo


@pytest.fixture
def source(tmp_path: pathlib.Path) -> pathlib.Path:
    """A config repository with one commit."""
    repo = tmp_path / "src"
    path = write(repo, WITH_DATA)
    git_init_and_commit(repo, "initial")
    return path


def git_init_and_commit(repo: pathlib.Path, message: str) -> None:
    if not (repo / ".git").exists():
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", message)


def commits(repo: pathlib.Path) -> int:
    return int(git(repo, "rev-list", "--count", "HEAD").strip() or 0)
