"""A gitops apply that fails, is interrupted or races another commit leaves the repository whole."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
from gitops_cases import DEV, _interrupt, _worktree, apply_to, refused, unchanged
from gitrepos import commits, git, git_init_and_commit
from helpers import WITH_DATA

from mlopsctl.io import gitutil
from mlopsctl.output import gitops


@pytest.mark.parametrize("failing", ["hash-object", "write-tree", "commit-tree", "update-ref"])
def test_an_apply_that_fails_changes_nothing_and_a_rerun_completes(
    source: pathlib.Path, deploy: pathlib.Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    apply_to(deploy, source, DEV)
    source.write_text(WITH_DATA.replace("raw: {}", "raw: {versioning: false}"))
    before = (git(deploy, "rev-parse", "HEAD"), _worktree(deploy))
    real = gitutil.git

    def broken(args: list[str], *rest: Any, **options: Any) -> bytes:
        if args[0] == failing:
            raise gitutil.GitError(f"git {failing} failed: simulated")
        return real(args, *rest, **options)

    monkeypatch.setattr(gitutil, "git", broken)
    assert "nothing was committed" in refused(deploy, source, DEV)
    assert (git(deploy, "rev-parse", "HEAD"), _worktree(deploy)) == before
    monkeypatch.setattr(gitutil, "git", real)
    assert apply_to(deploy, source, DEV).plan.summary.change == 1
    assert git(deploy, "status", "--porcelain") == ""


def test_an_apply_interrupted_after_its_commit_is_completed_by_a_rerun(
    source: pathlib.Path, deploy: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _interrupt(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        apply_to(deploy, source, DEV)
    assert commits(deploy) == 1
    monkeypatch.undo()
    assert unchanged(apply_to(deploy, source, DEV))
    assert commits(deploy) == 1 and git(deploy, "status", "--porcelain") == ""
    assert (deploy / "dev" / "us-central1" / "kustomization.yaml").is_file()


def test_a_concurrent_commit_is_not_overwritten(
    source: pathlib.Path, deploy: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    apply_to(deploy, source, DEV)
    real = gitutil.git

    def racing(args: list[str], *rest: Any, **options: Any) -> bytes:
        if args[0] == "commit-tree":
            (deploy / "README.md").write_text("someone else\n")
            git_init_and_commit(deploy, "concurrent change")
        return real(args, *rest, **options)

    monkeypatch.setattr(gitutil, "git", racing)
    source.write_text(WITH_DATA.replace("raw: {}", "raw: {versioning: false}"))
    assert "nothing was committed" in refused(deploy, source, DEV)
    assert git(deploy, "log", "-1", "--format=%s").strip() == "concurrent change"


def test_uncommitted_config_is_marked_dirty(source: pathlib.Path, deploy: pathlib.Path) -> None:
    source.write_text(WITH_DATA.replace("raw: {}", "raw: {versioning: false}"))
    apply_to(deploy, source, DEV)
    head = git(source.parent, "rev-parse", "HEAD").strip()
    assert f"Source commit: {head}-dirty" in git(deploy, "log", "-1", "--format=%B")


def test_a_commit_between_plan_and_apply_is_not_overwritten(
    source: pathlib.Path, deploy: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    apply_to(deploy, source, DEV)
    read_state = gitops.GitopsTarget.applied

    def then_someone_commits(self: gitops.GitopsTarget, project: str) -> Any:
        states = read_state(self, project)
        (deploy / "README.md").write_text("someone else\n")
        git_init_and_commit(deploy, "concurrent change")
        return states

    monkeypatch.setattr(gitops.GitopsTarget, "applied", then_someone_commits)
    source.write_text(WITH_DATA.replace("raw: {}", "raw: {versioning: false}"))
    assert "nothing was committed" in refused(deploy, source, DEV)
    assert git(deploy, "log", "-1", "--format=%s").strip() == "concurrent change"


def test_a_new_source_commit_alone_makes_no_deploy_commit(source: pathlib.Path, deploy: pathlib.Path) -> None:
    apply_to(deploy, source)
    (source.parent / "NOTES.md").write_text("unrelated\n")
    git_init_and_commit(source.parent, "notes")
    assert unchanged(apply_to(deploy, source))
    assert commits(deploy) == 1


def test_untracked_files_beside_the_config_do_not_make_it_dirty(
    source: pathlib.Path, deploy: pathlib.Path
) -> None:
    (source.parent / "plan.txt").write_text("scratch\n")
    apply_to(deploy, source, DEV)
    assert "-dirty" not in git(deploy, "log", "-1", "--format=%B")


def test_a_failed_working_tree_update_says_the_commit_was_made(
    source: pathlib.Path, deploy: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(gitops, "write_targets", broken)
    message = refused(deploy, source, DEV)
    assert message.startswith("committed ") and "rerun" in message
    monkeypatch.undo()
    assert unchanged(apply_to(deploy, source, DEV))
    assert git(deploy, "status", "--porcelain") == ""
