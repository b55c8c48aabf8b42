"""plan --base REF: what a change does, compared with the config at another commit."""

from __future__ import annotations

import json
import pathlib

import pytest
from gitrepos import git_init_and_commit
from helpers import MINIMAL, run, write


def test_a_change_is_shown_against_the_base(source: pathlib.Path) -> None:
    source.write_text(source.read_text().replace("raw: {}", "raw: {versioning: false}"))
    code, out, err = run("plan", source, "--base", "HEAD", "--detailed-exitcode")
    assert code == 2, err
    assert "# dev/us-central1/gcp:storage/bucket:Bucket/raw will be updated in-place" in out
    assert "~ enabled = true -> false" in out
    assert out.rstrip().endswith("Plan: 0 to add, 3 to change, 0 to destroy.")


def test_no_change_against_the_base(source: pathlib.Path) -> None:
    code, out, _ = run("plan", source, "--base", "HEAD", "--detailed-exitcode")
    assert code == 0
    assert out.rstrip().endswith("No changes. Your infrastructure matches the configuration.")


def test_a_new_environment_is_all_creates_and_the_others_one_line(source: pathlib.Path) -> None:
    text = source.read_text().replace(
        "environments:\n", "environments:\n  qa:\n    gcpProject: acme-demo-qa\n    regions: [us-east1]\n"
    )
    source.write_text(text)
    code, out, _ = run("plan", source, "--base", "HEAD", "--format", "markdown")
    assert code == 0
    assert "| qa | us-east1 |" in out
    assert "No changes: dev/us-central1, prod/us-central1, prod/europe-west4" in out


def test_a_config_new_in_the_change_is_compared_with_nothing(tmp_path: pathlib.Path) -> None:
    write(tmp_path / "repo", "# placeholder\n", "README.md")
    git_init_and_commit(tmp_path / "repo", "initial")
    config = write(tmp_path / "repo", MINIMAL)
    code, out, _ = run("plan", config, "--base", "HEAD", "--format", "json")
    changes = json.loads(out)["resource_changes"]
    assert code == 0 and changes
    assert {tuple(c["change"]["actions"]) for c in changes} == {("create",)}


def test_a_base_with_errors_is_refused(source: pathlib.Path) -> None:
    source.write_text(source.read_text().replace("raw: {}", "raw: {versionin: false}"))
    git_init_and_commit(source.parent, "broken")
    source.write_text(source.read_text().replace("versionin", "versioning"))
    code, _, err = run("plan", source, "--base", "HEAD")
    assert code == 1
    assert "mlops.yaml@HEAD has 1 error; see 'mlopsctl validate' at that commit" in err


@pytest.mark.parametrize("extra", [("--repo", "."), ("--out", "plan.json"), ("--target", "gitops")])
def test_base_takes_no_state(source: pathlib.Path, extra: tuple[str, str]) -> None:
    code, _, err = run("plan", source, "--base", "HEAD", *extra)
    assert code == 1 and "--base compares two commits of the config" in err


def test_an_unknown_base_is_a_clear_error(source: pathlib.Path) -> None:
    code, _, err = run("plan", source, "--base", "no-such-branch")
    assert code == 1 and "no-such-branch" in err and "Traceback" not in err
