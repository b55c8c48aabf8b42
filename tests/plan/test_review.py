"""plan --base REF: what a change does, compared with the config at another commit."""

from __future__ import annotations

import json
import pathlib

import pytest
from gitrepos import git_init_and_commit
from helpers import MINIMAL, plan_text, planned, run, write

from mlopsctl import api
from mlopsctl.views.plan_views import render


def test_a_change_is_shown_against_the_base(source: pathlib.Path) -> None:
    source.write_text(source.read_text().replace("raw: {}", "raw: {versioning: false}"))
    plan = planned(source, base="HEAD").plan
    assert plan.has_changes
    text = plan_text(plan)
    assert "# dev/us-central1/gcp:storage/bucket:Bucket/raw will be updated in-place" in text
    assert "~ enabled = true -> false" in text
    assert text.rstrip().endswith("Plan: 0 to add, 3 to change, 0 to destroy.")


def test_no_change_against_the_base(source: pathlib.Path) -> None:
    plan = planned(source, base="HEAD").plan
    assert not plan.has_changes
    assert plan_text(plan).rstrip().endswith("No changes. Your infrastructure matches the configuration.")


def test_a_new_environment_is_all_creates_and_the_others_one_line(source: pathlib.Path) -> None:
    text = source.read_text().replace(
        "environments:\n", "environments:\n  qa:\n    gcpProject: acme-demo-qa\n    regions: [us-east1]\n"
    )
    source.write_text(text)
    markdown = render(planned(source, base="HEAD").plan, "markdown")
    assert "| qa | us-east1 |" in markdown
    assert "No changes: dev/us-central1, prod/us-central1, prod/europe-west4" in markdown


def test_a_config_new_in_the_change_is_compared_with_nothing(tmp_path: pathlib.Path) -> None:
    write(tmp_path / "repo", "# placeholder\n", "README.md")
    git_init_and_commit(tmp_path / "repo", "initial")
    config = write(tmp_path / "repo", MINIMAL)
    changes = json.loads(render(planned(config, base="HEAD").plan, "json"))["resource_changes"]
    assert changes
    assert {tuple(c["change"]["actions"]) for c in changes} == {("create",)}


def test_a_base_with_errors_is_refused(source: pathlib.Path) -> None:
    source.write_text(source.read_text().replace("raw: {}", "raw: {versionin: false}"))
    git_init_and_commit(source.parent, "broken")
    source.write_text(source.read_text().replace("versionin", "versioning"))
    with pytest.raises(api.UserError) as caught:
        planned(source, base="HEAD")
    assert "mlops.yaml@HEAD has 1 error; see 'mlopsctl validate' at that commit" in str(caught.value)


@pytest.mark.parametrize(
    "spec",
    [api.TargetSpec(repo=pathlib.Path(".")), api.TargetSpec(api.TargetKind.gitops)],
    ids=["repo", "target"],
)
def test_base_takes_no_target(source: pathlib.Path, spec: api.TargetSpec) -> None:
    with pytest.raises(api.UserError, match="--base compares two commits of the config"):
        planned(source, spec, base="HEAD")


def test_an_unknown_base_is_a_user_error(source: pathlib.Path) -> None:
    with pytest.raises(api.UserError, match="no-such-branch"):
        planned(source, base="no-such-branch")


def test_cli_plan_base_takes_no_out(source: pathlib.Path) -> None:
    code, _, err = run("plan", source, "--base", "HEAD", "--out", "plan.json")
    assert code == 1 and "--base compares two commits of the config: it takes no --out" in err
