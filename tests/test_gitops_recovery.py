"""A gitops apply that fails, is interrupted or races another commit leaves the repository whole.

Failures are real: a ``git`` on PATH (tests/fake_git.py) that fails, is interrupted or lets another
process commit at a chosen step, and file-system conditions in the deploy repository.
"""

from __future__ import annotations

import pathlib

import pytest
from fake_git import FakeGit, concurrent_commit
from gitops_cases import DEV, _interrupt, _worktree, apply_to, refused, unchanged
from gitrepos import commits, git, git_init_and_commit
from helpers import WITH_DATA


@pytest.mark.parametrize("failing", ["hash-object", "write-tree", "commit-tree", "update-ref"])
def test_an_apply_that_fails_changes_nothing_and_a_rerun_completes(
    source: pathlib.Path, deploy: pathlib.Path, fake_git: FakeGit, failing: str
) -> None:
    """Each git step of the commit fails in turn (as on a full disk or a corrupt object store)."""
    apply_to(deploy, source, DEV)
    source.write_text(WITH_DATA.replace("raw: {}", "raw: {versioning: false}"))
    before = (git(deploy, "rev-parse", "HEAD"), _worktree(deploy))
    fake_git.fail(failing)
    assert f"nothing was committed to {deploy}: git {failing} failed: simulated failure" in refused(
        deploy, source, DEV
    )
    assert (git(deploy, "rev-parse", "HEAD"), _worktree(deploy)) == before
    fake_git.forward()
    assert apply_to(deploy, source, DEV).plan.summary.change == 1
    assert git(deploy, "status", "--porcelain") == ""


def test_an_apply_interrupted_after_its_commit_is_completed_by_a_rerun(
    source: pathlib.Path, deploy: pathlib.Path, fake_git: FakeGit
) -> None:
    """Ctrl-C arrives once the branch has moved, before the working tree is written."""
    _interrupt(fake_git)
    with pytest.raises(KeyboardInterrupt):
        apply_to(deploy, source, DEV)
    assert commits(deploy) == 1 and not (deploy / "dev").exists()
    fake_git.forward()
    assert unchanged(apply_to(deploy, source, DEV))
    assert commits(deploy) == 1 and git(deploy, "status", "--porcelain") == ""
    assert (deploy / "dev" / "us-central1" / "kustomization.yaml").is_file()


def test_a_concurrent_commit_is_not_overwritten(
    source: pathlib.Path, deploy: pathlib.Path, fake_git: FakeGit
) -> None:
    """Another process commits to the deploy repository while the apply builds its commit."""
    apply_to(deploy, source, DEV)
    fake_git.run("before", "commit-tree", concurrent_commit(deploy, "concurrent change"))
    source.write_text(WITH_DATA.replace("raw: {}", "raw: {versioning: false}"))
    assert "nothing was committed" in refused(deploy, source, DEV)
    assert git(deploy, "log", "-1", "--format=%s").strip() == "concurrent change"


def test_uncommitted_config_is_marked_dirty(source: pathlib.Path, deploy: pathlib.Path) -> None:
    source.write_text(WITH_DATA.replace("raw: {}", "raw: {versioning: false}"))
    apply_to(deploy, source, DEV)
    head = git(source.parent, "rev-parse", "HEAD").strip()
    assert f"Source commit: {head}-dirty" in git(deploy, "log", "-1", "--format=%B")


def test_a_commit_between_plan_and_apply_is_not_overwritten(
    source: pathlib.Path, deploy: pathlib.Path, fake_git: FakeGit
) -> None:
    """Another process commits right after the plan read the applied state from HEAD (its
    ``git ls-tree``), before the apply starts its commit."""
    apply_to(deploy, source, DEV)
    fake_git.run("after", "ls-tree", concurrent_commit(deploy, "concurrent change"))
    source.write_text(WITH_DATA.replace("raw: {}", "raw: {versioning: false}"))
    assert "nothing was committed" in refused(deploy, source, DEV)
    assert git(deploy, "log", "-1", "--format=%s").strip() == "concurrent change"
    assert commits(deploy) == 2


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
    source: pathlib.Path, deploy: pathlib.Path
) -> None:
    """The working tree cannot be written after the commit (as on a full disk): a file stands where
    the environment's folder must be made."""
    blocker = deploy / "dev"
    blocker.write_text("in the way\n")
    message = refused(deploy, source, DEV)
    assert message.startswith("committed ") and "rerun" in message
    assert commits(deploy) == 1
    blocker.unlink()
    assert unchanged(apply_to(deploy, source, DEV))
    assert git(deploy, "status", "--porcelain") == ""
