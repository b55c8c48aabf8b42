from __future__ import annotations

import pathlib
import subprocess

import pytest
from helpers import WITH_DATA, run, write


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


def test_plan_apply_plan_shows_no_changes(source: pathlib.Path, deploy: pathlib.Path) -> None:
    code, out, _ = run("plan", source, "--target", "gitops", "--repo", deploy, "--detailed-exitcode")
    assert code == 2 and "Plan: 9 to add" in out
    code, out, _ = run("apply", source, "--repo", deploy)
    assert code == 0 and "Committed" in out
    code, out, _ = run("plan", source, "--target", "gitops", "--repo", deploy, "--detailed-exitcode")
    assert code == 0
    assert out.rstrip().endswith("No changes. Your infrastructure matches the configuration.")


def test_second_apply_makes_no_commit(source: pathlib.Path, deploy: pathlib.Path) -> None:
    run("apply", source, "--repo", deploy)
    assert commits(deploy) == 1
    code, out, _ = run("apply", source, "--repo", deploy)
    assert code == 0 and out.startswith("No changes")
    assert commits(deploy) == 1


def test_commit_message_has_plan_summary_and_source_commit(
    source: pathlib.Path, deploy: pathlib.Path
) -> None:
    run("apply", source, "--repo", deploy)
    message = git(deploy, "log", "-1", "--format=%B")
    head = git(source.parent, "rev-parse", "HEAD").strip()
    assert message.startswith("mlopsctl apply demo: Plan: 9 to add, 0 to change, 0 to destroy.")
    assert f"Source commit: {head}" in message
    assert "prod/europe-west4: +3 ~0 -0" in message


def test_state_is_recorded_per_target(source: pathlib.Path, deploy: pathlib.Path) -> None:
    run("apply", source, "--repo", deploy, "--env", "prod", "--region", "europe-west4")
    states = sorted(p.relative_to(deploy).as_posix() for p in (deploy / ".mlopsctl").rglob("*.json"))
    assert states == [".mlopsctl/state/prod/europe-west4.json"]
    assert (deploy / "prod" / "europe-west4" / "kustomization.yaml").is_file()
    assert not (deploy / "dev").exists()


def test_update_is_planned_in_place(source: pathlib.Path, deploy: pathlib.Path) -> None:
    run("apply", source, "--repo", deploy, "--env", "dev")
    source.write_text(WITH_DATA.replace("raw: {}", "raw: {versioning: false}"))
    _, out, _ = run("plan", source, "--target", "gitops", "--repo", deploy, "--env", "dev")
    assert "# dev/us-central1/gcp:storage/bucket:Bucket/raw will be updated in-place" in out
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in out


def test_destroying_protected_resources_needs_allow_destroy(
    source: pathlib.Path, deploy: pathlib.Path
) -> None:
    run("apply", source, "--repo", deploy, "--env", "dev")
    source.write_text(WITH_DATA.replace("    raw: {}\n", "    other: {}\n"))
    code, _, err = run("apply", source, "--repo", deploy, "--env", "dev")
    assert code == 1
    assert "dev/us-central1/gcp:storage/bucket:Bucket/raw" in err and "--allow-destroy" in err
    assert commits(deploy) == 1
    code, out, _ = run("apply", source, "--repo", deploy, "--env", "dev", "--allow-destroy")
    assert code == 0 and "1 to destroy" in out
    assert commits(deploy) == 2


def test_removed_environment_is_destroyed(source: pathlib.Path, deploy: pathlib.Path) -> None:
    run("apply", source, "--repo", deploy)
    source.write_text(
        WITH_DATA.replace("    regions: [us-central1, europe-west4]", "    regions: [us-central1]")
    )
    _, out, _ = run("plan", source, "--target", "gitops", "--repo", deploy)
    assert "prod/europe-west4/gcp:storage/bucket:Bucket/raw will be destroyed" in out
    assert "Plan: 0 to add, 0 to change, 3 to destroy." in out
    assert run("apply", source, "--repo", deploy, "--allow-destroy")[0] == 0
    assert not (deploy / "prod" / "europe-west4").exists()
    assert not (deploy / ".mlopsctl" / "state" / "prod" / "europe-west4.json").exists()


def test_ref_reads_the_config_as_of_a_commit(source: pathlib.Path, deploy: pathlib.Path) -> None:
    first = git(source.parent, "rev-parse", "HEAD").strip()
    source.write_text(WITH_DATA.replace("    raw: {}\n", "    raw: {}\n    extra: {}\n"))
    git_init_and_commit(source.parent, "add bucket")
    source.write_text("this is: [not valid\n")  # the working tree is broken; the ref is not
    code, out, _ = run("apply", source, "--repo", deploy, "--ref", first)
    assert code == 0, out
    assert f"Source commit: {first}" in git(deploy, "log", "-1", "--format=%B")
    assert "extra" not in (deploy / "dev" / "us-central1" / "graph.json").read_text()
    code, out, _ = run("plan", source, "--ref", "HEAD", "--target", "gitops", "--repo", deploy)
    assert code == 0 and "Plan: 3 to add, 0 to change, 0 to destroy." in out


def test_unknown_ref_is_a_clear_error(source: pathlib.Path) -> None:
    code, _, err = run("validate", source, "--ref", "no-such-branch")
    assert code == 1 and err.startswith("error: git rev-parse") and "Traceback" not in err


def test_repo_that_is_not_a_git_repository(tmp_path: pathlib.Path, source: pathlib.Path) -> None:
    code, _, err = run("apply", source, "--repo", tmp_path / "nowhere")
    assert code == 1 and "git init" in err
