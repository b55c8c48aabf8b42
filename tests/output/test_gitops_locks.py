"""The gitops target's lock, and applies killed (SIGKILL) around their commit.

Each kill leaves the branch at the old commit or the new one; the next apply is
refused naming the dead one's lock; after force-unlock a rerun completes the
apply, and a third apply changes nothing.
"""

from __future__ import annotations

import json
import pathlib
import shutil

import pytest
from api_helpers import refusal
from gitrepos import commits, git, git_init_and_commit
from helpers import WITH_DATA, applied, selected, write
from killable import Child, killed_at

from mlopsctl import api

GITOPS_APPLY = """
import pathlib

from mlopsctl import api
from mlopsctl.io import gitutil
from mlopsctl.output import gitops

around(gitutil, "git", lambda args, *_: f"before git {args[0]}", lambda args, *_: f"after git {args[0]}")
around(gitops, "write_targets", lambda *a: "before the working tree", lambda *a: "during the working tree")
config, deploy = (pathlib.Path(arg) for arg in sys.argv[1:])
dev = api.Selection(("dev",), ())
with api.open_config(config, None, dev) as validation:
    print(api.apply(validation, config, dev, api.TargetSpec(repo=deploy)).outcome.detail)
"""
"""A child that applies dev of ``CONFIG`` to ``DEPLOY`` (its arguments), as ``apply --env dev`` does."""
CHANGED = WITH_DATA.replace("raw: {}", "raw: {versioning: false}")


@pytest.fixture(scope="module")
def applied_once(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A config repository and a deploy repository with dev applied; the config then changed."""
    root = tmp_path_factory.mktemp("applied")
    write(root / "src", WITH_DATA)
    git_init_and_commit(root / "src", "initial")
    git(root, "init", "-q", "deploy")
    assert _apply(root).outcome.changed
    (root / "src" / "mlops.yaml").write_text(CHANGED)
    git_init_and_commit(root / "src", "no versioning")
    return root


@pytest.fixture
def repos(applied_once: pathlib.Path, tmp_path: pathlib.Path) -> pathlib.Path:
    shutil.copytree(applied_once, tmp_path, dirs_exist_ok=True)
    return tmp_path


@pytest.fixture(scope="module")
def expected_tree(applied_once: pathlib.Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The tree an uninterrupted apply of the change commits."""
    root = tmp_path_factory.mktemp("uninterrupted")
    shutil.copytree(applied_once, root, dirs_exist_ok=True)
    assert _apply(root).outcome.changed
    return git(root / "deploy", "rev-parse", "HEAD^{tree}").strip()


def _apply(root: pathlib.Path) -> api.ApplyResult:
    return applied(
        root / "src" / "mlops.yaml", api.TargetSpec(repo=root / "deploy"), selection=selected(["dev"])
    )


def _args(root: pathlib.Path) -> tuple[str, ...]:
    return str(root / "src" / "mlops.yaml"), str(root / "deploy")


def _unlock(root: pathlib.Path, lock_id: str, env: str | None = None) -> api.Unlocked:
    return api.force_unlock(root / "src" / "mlops.yaml", lock_id, repo=root / "deploy", env=env)


def _lock(root: pathlib.Path) -> dict[str, str]:
    lock: dict[str, str] = json.loads((root / "deploy" / ".git" / "mlopsctl.lock").read_text())
    return lock


POINTS = [
    ("before git write-tree", False),
    ("before git commit-tree", False),
    ("before git update-ref", False),
    ("after git update-ref", True),
    ("before the working tree", True),
    ("during the working tree", True),
]


@pytest.mark.parametrize(("point", "committed"), POINTS, ids=[p[0] for p in POINTS])
def test_an_apply_killed_around_its_commit_is_completed_by_a_rerun(
    repos: pathlib.Path, expected_tree: str, point: str, committed: bool
) -> None:
    deploy = repos / "deploy"
    before = git(deploy, "rev-parse", "HEAD").strip()

    killed_at(GITOPS_APPLY, point, *_args(repos))

    assert commits(deploy) == 1 + committed
    assert (git(deploy, "rev-parse", "HEAD^{tree}").strip() == expected_tree) is committed
    assert git(deploy, "rev-parse", "HEAD~1" if committed else "HEAD").strip() == before
    lock = _lock(repos)
    message = refusal(lambda: _apply(repos))
    assert f"is locked by {lock['who']} (mlopsctl apply, since {lock['created']}" in message
    assert f"run 'mlopsctl force-unlock {lock['id']} --repo {deploy}'" in message
    unlocked = _unlock(repos, lock["id"])
    assert (unlocked.what, unlocked.holder.id) == (f"the deploy repository {deploy}", lock["id"])

    summary = _apply(repos).plan.summary
    assert (summary.add, summary.change, summary.destroy) == (0, 0 if committed else 1, 0)
    assert git(deploy, "rev-parse", "HEAD^{tree}").strip() == expected_tree
    assert git(deploy, "status", "--porcelain") == ""
    result = _apply(repos)
    assert not result.plan.has_changes and not result.outcome.changed and commits(deploy) == 2
    assert not (deploy / ".git" / "mlopsctl.lock").exists()


def test_a_second_apply_is_refused_at_once_naming_the_first(repos: pathlib.Path, expected_tree: str) -> None:
    first = Child(GITOPS_APPLY, "before git commit-tree", *_args(repos))
    first.wait_for("before git commit-tree")
    lock = _lock(repos)
    message = refusal(lambda: _apply(repos))
    assert message.startswith(f"the deploy repository {repos / 'deploy'} is locked by ")
    assert f"lock id {lock['id']}" in message
    code, out, err = first.finish()  # closing its input lets the first apply go on
    assert code == 0 and "Committed" in out, err
    assert not _apply(repos).plan.has_changes
    assert git(repos / "deploy", "rev-parse", "HEAD^{tree}").strip() == expected_tree


def test_force_unlock_of_a_repository_needs_the_lock_id(repos: pathlib.Path) -> None:
    deploy = repos / "deploy"
    assert refusal(lambda: _unlock(repos, "some-id")) == (
        f"the deploy repository {deploy} is not locked; nothing to unlock"
    )
    killed_at(GITOPS_APPLY, "before git write-tree", *_args(repos))
    lock = _lock(repos)
    message = refusal(lambda: _unlock(repos, "some-id"))
    assert f"is locked by {lock['who']} (mlopsctl apply" in message and "not by lock some-id" in message
    message = refusal(lambda: _unlock(repos, lock["id"], env="dev"))
    assert "--repo has one lock for all environments and regions" in message
    assert _lock(repos) == lock
