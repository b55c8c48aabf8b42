"""Unseen-config sweep: saved plans replayed from elsewhere or tampered with, a shallow clone asked for
an old --base, and an apply to a deploy repository on a detached HEAD."""

from __future__ import annotations

import pathlib
import subprocess

import pytest
from gitrepos import git, git_init_and_commit
from helpers import applied, planned

from mlopsctl import api
from mlopsctl.io import gitutil
from mlopsctl.plan.saved import Basis, Invocation, SavedPlan


def _saved(config: str, target: str | None = "gitops", ref: str | None = None) -> SavedPlan:
    invocation = Invocation(config, ref, (), (), target, {"repo": "deploy"})
    return SavedPlan(invocation, Basis(None, {}, {}), {})


@pytest.mark.parametrize(
    ("target", "config", "message"),
    [
        (
            "bogus",
            "mlops.yaml",
            "plan.json is not a plan saved by 'mlopsctl plan --out': unknown target 'bogus'",
        ),
        (
            "gitops",
            "elsewhere/mlops.yaml",
            "plan.json was planned with the config elsewhere/mlops.yaml, which",
        ),
    ],
)
def test_replay_refuses_what_it_cannot_repeat(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, target: str, config: str, message: str
) -> None:
    (tmp_path / "mlops.yaml").write_text("{}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(api.UserError) as caught:
        api.replay(_saved(config, target), pathlib.Path("plan.json"))
    assert str(caught.value).startswith(message)


def test_replay_of_a_plan_made_here_gives_its_invocation(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mlops.yaml").write_text("{}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    file, envs, regions, ref, spec = api.replay(_saved("mlops.yaml"), pathlib.Path("plan.json"))
    assert (file, envs, regions, ref) == (pathlib.Path("mlops.yaml"), [], [], None)
    assert (spec.kind, spec.repo) == (api.TargetKind.gitops, pathlib.Path("deploy"))


def test_a_base_missing_from_a_shallow_clone_says_the_clone_is_shallow(
    source: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    (source.parent / "NOTES.md").write_text("notes\n", encoding="utf-8")
    git_init_and_commit(source.parent, "notes")
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", source.parent.as_uri(), str(clone)], check=True)
    with pytest.raises(gitutil.GitError, match=r"it is a shallow clone: fetch the history first"):
        gitutil.resolve_ref(clone, "HEAD~1")
    with pytest.raises(gitutil.GitError) as caught:
        gitutil.resolve_ref(source.parent, "nope")
    assert "shallow" not in str(caught.value)
    assert planned(clone / source.name, base="HEAD").plan.has_changes is False


def test_an_apply_to_a_detached_head_says_no_branch_holds_the_commit(
    source: pathlib.Path, deploy: pathlib.Path
) -> None:
    spec = api.TargetSpec(repo=deploy)
    dev = api.Selection(("dev",))
    assert "(a detached HEAD" not in applied(source, spec, selection=dev).outcome.detail
    git(deploy, "checkout", "-q", "--detach")
    detail = applied(source, spec).outcome.detail
    assert detail.startswith("Committed ") and "(a detached HEAD, on no branch: push it with" in detail
    assert gitutil.branch(deploy) is None
