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
from gitrepos import commits, git, git_init_and_commit
from helpers import WITH_DATA, run, write
from killable import Child, killed_at

GITOPS_APPLY = """
from mlopsctl.io import gitutil
from mlopsctl.output import gitops
from mlopsctl.cli import main

around(gitutil, "git", lambda args, *_: f"before git {args[0]}", lambda args, *_: f"after git {args[0]}")
around(gitops, "write_targets", lambda *a: "before the working tree", lambda *a: "during the working tree")
sys.argv = ["mlopsctl", *sys.argv[1:]]
main()
"""
CHANGED = WITH_DATA.replace("raw: {}", "raw: {versioning: false}")


@pytest.fixture(scope="module")
def applied_once(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A config repository and a deploy repository with dev applied; the config then changed."""
    root = tmp_path_factory.mktemp("applied")
    write(root / "src", WITH_DATA)
    git_init_and_commit(root / "src", "initial")
    git(root, "init", "-q", "deploy")
    assert _apply(root)[0] == 0
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
    assert _apply(root)[0] == 0
    return git(root / "deploy", "rev-parse", "HEAD^{tree}").strip()


def _apply(root: pathlib.Path) -> tuple[int, str, str]:
    return run("apply", root / "src" / "mlops.yaml", "--repo", root / "deploy", "--env", "dev")


def _args(root: pathlib.Path) -> tuple[str, ...]:
    return ("apply", str(root / "src" / "mlops.yaml"), "--repo", str(root / "deploy"), "--env", "dev")


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
    code, _, err = _apply(repos)
    assert code == 1 and f"is locked by {lock['who']} (mlopsctl apply, since {lock['created']}" in err
    assert f"run 'mlopsctl force-unlock {lock['id']} --repo {deploy}'" in err
    code, out, _ = run("force-unlock", lock["id"], "--repo", deploy)
    assert code == 0 and out.startswith(f"Released the lock of the deploy repository {deploy}, held by ")

    code, out, _ = _apply(repos)
    assert code == 0
    assert out.startswith("No changes") if committed else "Plan: 0 to add, 1 to change" in out
    assert git(deploy, "rev-parse", "HEAD^{tree}").strip() == expected_tree
    assert git(deploy, "status", "--porcelain") == ""
    code, out, _ = _apply(repos)
    assert code == 0 and out.startswith("No changes") and commits(deploy) == 2
    assert not (deploy / ".git" / "mlopsctl.lock").exists()


def test_a_second_apply_is_refused_at_once_naming_the_first(repos: pathlib.Path, expected_tree: str) -> None:
    first = Child(GITOPS_APPLY, "before git commit-tree", *_args(repos))
    first.wait_for("before git commit-tree")
    lock = _lock(repos)
    code, _, err = _apply(repos)
    assert code == 1 and err.startswith(f"error: the deploy repository {repos / 'deploy'} is locked by ")
    assert f"lock id {lock['id']}" in err
    code, out, _ = first.finish()  # closing its input lets the first apply go on
    assert code == 0 and "Committed" in out
    assert _apply(repos)[1].startswith("No changes")
    assert git(repos / "deploy", "rev-parse", "HEAD^{tree}").strip() == expected_tree


def test_force_unlock_of_a_repository_needs_the_lock_id(repos: pathlib.Path) -> None:
    deploy = repos / "deploy"
    code, _, err = run("force-unlock", "some-id", "--repo", deploy)
    assert (code, err) == (1, f"error: the deploy repository {deploy} is not locked; nothing to unlock\n")
    killed_at(GITOPS_APPLY, "before git write-tree", *_args(repos))
    lock = _lock(repos)
    code, _, err = run("force-unlock", "some-id", "--repo", deploy)
    assert code == 1 and f"is locked by {lock['who']} (mlopsctl apply" in err and "not by lock some-id" in err
    code, _, err = run("force-unlock", lock["id"], "--repo", deploy, "--env", "dev")
    assert code == 1 and "--repo has one lock for all environments and regions" in err
    assert _lock(repos) == lock
