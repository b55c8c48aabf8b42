"""Helpers of the gitops target's tests: plan against, apply to and edit a deploy repository."""

from __future__ import annotations

import pathlib

import pytest
from fake_git import FakeGit
from gitrepos import git
from helpers import applied, planned, selected

from mlopsctl import api
from mlopsctl.api import ApplyResult, PlanResult

DEV = selected(["dev"])


def apply_to(
    deploy: pathlib.Path,
    source: pathlib.Path,
    selection: api.Selection = api.ALL,
    *,
    allow_destroy: bool = False,
    ref: str | None = None,
) -> ApplyResult:
    return applied(
        source, api.TargetSpec(repo=deploy), selection=selection, allow_destroy=allow_destroy, ref=ref
    )


def plan_against(
    deploy: pathlib.Path, source: pathlib.Path, selection: api.Selection = api.ALL, ref: str | None = None
) -> PlanResult:
    return planned(source, api.TargetSpec(api.TargetKind.gitops, deploy), selection=selection, ref=ref)


def refused(deploy: pathlib.Path, source: pathlib.Path, selection: api.Selection = api.ALL) -> str:
    """The message of the UserError that refuses an apply."""
    with pytest.raises(api.UserError) as caught:
        apply_to(deploy, source, selection)
    return str(caught.value)


def unchanged(result: ApplyResult) -> bool:
    """The apply found nothing to change and said so."""
    return not result.plan.has_changes and result.outcome.detail.startswith("No changes")


def _interrupt(fake_git: FakeGit) -> None:
    """Make the next apply stop, as by Ctrl-C, once its commit is made (HEAD moved) and before the
    working tree is updated: SIGINT arrives as ``git update-ref`` returns."""
    fake_git.interrupt_after("update-ref")


def _worktree(repo: pathlib.Path) -> dict[str, bytes]:
    return {
        p.relative_to(repo).as_posix(): p.read_bytes()
        for p in sorted(repo.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(repo).parts
    }


def _edit(path: pathlib.Path) -> None:
    path.write_text(path.read_text() + "# mine\n")


def _stage_edit(path: pathlib.Path) -> None:
    _edit(path)
    git(path.parents[2], "add", str(path))
