"""The gitops target never commits into the repository that holds mlops.yaml: the rendered folders and
state would land on the branch being worked on, beside the user's uncommitted changes."""

from __future__ import annotations

import pathlib
import subprocess

import pytest
from helpers import MINIMAL, applied, planned, write

from mlopsctl.api import TargetSpec
from mlopsctl.api.errors import UserError


def _git(folder: pathlib.Path, *args: str) -> str:
    found = subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True, text=True)
    return found.stdout


def test_an_apply_into_the_configs_own_repository_is_refused_and_commits_nothing(
    tmp_path: pathlib.Path,
) -> None:
    config = write(tmp_path, MINIMAL)
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "-c", "user.email=a@example.com", "-c", "user.name=a", "commit", "-qm", "config")
    (tmp_path / "notes.txt").write_text("work in progress\n")
    head = _git(tmp_path, "rev-parse", "HEAD")
    with pytest.raises(UserError) as caught:
        applied(config, TargetSpec(repo=tmp_path))
    assert f"--repo {tmp_path} holds the config {config} itself" in str(caught.value)
    assert "nothing was read or committed" in str(caught.value)
    assert _git(tmp_path, "rev-parse", "HEAD") == head
    assert _git(tmp_path, "status", "--porcelain") == "?? notes.txt\n"


def test_a_separate_deploy_repository_is_applied_to(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path / "source", MINIMAL)
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    _git(deploy, "init", "-q")
    applied(config, TargetSpec(repo=deploy))
    assert _git(deploy, "log", "--oneline").count("\n") == 1


def test_a_plan_against_the_configs_own_repository_is_refused_too(tmp_path: pathlib.Path) -> None:
    """No apply could commit there: a plan against it would promise one."""
    config = write(tmp_path, MINIMAL)
    _git(tmp_path, "init", "-q")
    with pytest.raises(UserError) as caught:
        planned(config, TargetSpec(repo=tmp_path))
    assert f"--repo {tmp_path} holds the config {config} itself" in str(caught.value)
