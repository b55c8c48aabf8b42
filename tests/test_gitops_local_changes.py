"""A gitops apply refuses to overwrite local changes in the folders it manages, and only those."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
from fake_git import FakeGit
from gitops_cases import DEV, _edit, _interrupt, _stage_edit, _worktree, apply_to, refused, unchanged
from gitrepos import git, git_init_and_commit
from helpers import WITH_DATA, write

from mlopsctl import api
from mlopsctl.io import gitutil
from mlopsctl.output import gitops

KUSTOMIZATION = "dev/us-central1/kustomization.yaml"
DEV_STATE = ".mlopsctl/state/dev/us-central1.json"


@pytest.mark.parametrize(
    ("change", "listed"),
    [
        pytest.param(lambda d: _edit(d / KUSTOMIZATION), f" M {KUSTOMIZATION}", id="edited"),
        pytest.param(lambda d: _stage_edit(d / KUSTOMIZATION), f"M  {KUSTOMIZATION}", id="staged"),
        pytest.param(lambda d: (d / KUSTOMIZATION).unlink(), f" D {KUSTOMIZATION}", id="deleted"),
        pytest.param(
            lambda d: write(d / "dev/us-central1/extra", "kind: x\n", "mine.yaml"),
            "?? dev/us-central1/extra/mine.yaml",
            id="untracked",
        ),
        pytest.param(lambda d: _edit(d / DEV_STATE), f" M {DEV_STATE}", id="state edited"),
    ],
)
def test_apply_refuses_to_overwrite_local_changes_in_the_folders_it_manages(
    source: pathlib.Path, deploy: pathlib.Path, change: Any, listed: str
) -> None:
    apply_to(deploy, source, DEV)
    source.write_text(WITH_DATA.replace("raw: {}", "raw: {versioning: false}"))
    change(deploy)
    before = (git(deploy, "rev-parse", "HEAD"), git(deploy, "status", "--porcelain"), _worktree(deploy))
    message = refused(deploy, source, DEV)
    assert "uncommitted changes or untracked files" in message and "nothing was changed" in message
    assert f"\n  {listed}\n" in message + "\n", message
    assert (
        git(deploy, "rev-parse", "HEAD"),
        git(deploy, "status", "--porcelain"),
        _worktree(deploy),
    ) == before


def test_untracked_files_before_the_first_apply_are_refused(
    source: pathlib.Path, deploy: pathlib.Path
) -> None:
    write(deploy / "dev" / "us-central1", "mine\n", "notes.md")
    assert "?? dev/us-central1/notes.md" in refused(deploy, source, DEV)
    assert sorted(p.name for p in deploy.iterdir()) == [".git", "dev"] and gitutil.head_commit(deploy) is None
    assert [p.name for p in (deploy / "dev" / "us-central1").iterdir()] == ["notes.md"]


@pytest.mark.parametrize(
    "elsewhere",
    [
        pytest.param(lambda d: write(d, "notes\n", "README.md"), id="outside every target"),
        pytest.param(lambda d: _edit(d / "prod/us-central1/kustomization.yaml"), id="unselected target"),
        pytest.param(lambda d: write(d / "dev/us-central1", "x\n", "debug.log"), id="ignored file"),
        pytest.param(lambda d: write(d / "dev", "x\n", "notes.md"), id="beside the region folder"),
    ],
)
def test_changes_apply_does_not_manage_do_not_stop_it(
    source: pathlib.Path, deploy: pathlib.Path, elsewhere: Any
) -> None:
    write(deploy, "*.log\n", ".gitignore")
    git_init_and_commit(deploy, "ignore logs")
    apply_to(deploy, source)
    elsewhere(deploy)
    status = git(deploy, "status", "--porcelain")
    source.write_text(WITH_DATA.replace("raw: {}", "raw: {versioning: false}"))
    assert apply_to(deploy, source, DEV).plan.summary.change == 1
    assert git(deploy, "status", "--porcelain") == status


def test_an_interrupted_apply_does_not_excuse_a_later_edit(
    source: pathlib.Path, deploy: pathlib.Path, fake_git: FakeGit
) -> None:
    """What a dead apply left is its own to finish; a file edited since is someone's work."""
    apply_to(deploy, source, DEV)
    source.write_text(WITH_DATA.replace("raw: {}", "raw: {versioning: false}"))
    _interrupt(fake_git)
    with pytest.raises(KeyboardInterrupt):
        apply_to(deploy, source, DEV)
    fake_git.forward()
    assert (deploy / ".git" / gitops.SYNC_FILE).exists()
    _edit(deploy / KUSTOMIZATION)
    message = refused(deploy, source, DEV) + "\n"
    assert f"{KUSTOMIZATION}\n" in message and "graph.json" not in message
    (deploy / KUSTOMIZATION).write_bytes(gitutil.blob_at(deploy, "HEAD~1", KUSTOMIZATION) or b"")
    assert unchanged(apply_to(deploy, source, DEV))
    assert git(deploy, "status", "--porcelain") == "" and not (deploy / ".git" / gitops.SYNC_FILE).exists()


def test_another_environment_invalid_fails_the_validation_of_a_selection(source: pathlib.Path) -> None:
    invalid = (
        "    regions: [us-central1, europe-west4]\n"
        "    overrides: {data: {buckets: {raw: {versioning: maybe}}}}\n"
    )
    source.write_text(WITH_DATA.replace("    regions: [us-central1, europe-west4]\n", invalid))
    with api.open_config(source, selection=DEV) as validation:
        assert not validation.ok
        [error] = [d.to_text() for d in validation.diagnostics if d.is_error]
    assert "(in prod/us-central1, prod/europe-west4)" in error
