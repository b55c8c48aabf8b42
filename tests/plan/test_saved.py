"""plan --out FILE, then apply --plan FILE: exactly that plan, or refused as stale."""

from __future__ import annotations

import json
import pathlib

import pytest
from gitrepos import git_init_and_commit
from helpers import applied, apply_saved, run, save_plan, selected

from mlopsctl import api
from mlopsctl.io import gitutil
from mlopsctl.plan.saved import SavedPlanError, parse_saved_plan


def _save(source: pathlib.Path, deploy: pathlib.Path, out: pathlib.Path, envs: tuple[str, ...] = ()) -> None:
    save_plan(source, out, api.TargetSpec(repo=deploy), selection=selected(envs))


def test_a_saved_plan_records_how_it_was_made(source: pathlib.Path, deploy: pathlib.Path) -> None:
    out = source.parent / "plan.json"
    _save(source, deploy, out, ("prod",))
    saved = parse_saved_plan(out.read_text(), "plan.json")
    assert saved.invocation.config == str(source)
    assert saved.invocation.envs == ("prod",)
    assert saved.invocation.options == {"repo": str(deploy)}
    assert sorted(saved.basis.config_hashes) == ["prod/europe-west4", "prod/us-central1"]
    assert saved.basis.state_hashes == {}
    assert saved.basis.source_commit and not saved.basis.source_commit.endswith("-dirty")


def test_apply_plan_applies_exactly_the_saved_plan(source: pathlib.Path, deploy: pathlib.Path) -> None:
    out = source.parent / "plan.json"
    _save(source, deploy, out, ("prod",))
    assert "Committed" in apply_saved(out).outcome.detail
    assert sorted(p.name for p in deploy.iterdir() if not p.name.startswith(".")) == ["prod"]
    with pytest.raises(api.UserError) as caught:
        apply_saved(out)
    assert str(caught.value).startswith(
        "Saved plan is stale: the state of prod/europe-west4, prod/us-central1 changed"
    )


@pytest.mark.parametrize("change", ["config", "commit", "state"])
def test_a_stale_plan_is_refused_and_nothing_is_applied(
    source: pathlib.Path, deploy: pathlib.Path, change: str
) -> None:
    out = source.parent.parent / "plan.json"
    _save(source, deploy, out)
    expected = {
        "config": "the config of dev/us-central1, prod/europe-west4, prod/us-central1 changed",
        "commit": "the source commit is ",
        "state": "the state of dev/us-central1 changed",
    }[change]
    if change == "config":
        source.write_text(source.read_text().replace("raw: {}", "raw: {versioning: false}"))
    elif change == "commit":
        (source.parent / "README.md").write_text("notes\n")
        git_init_and_commit(source.parent, "docs")
    else:
        applied(source, api.TargetSpec(repo=deploy), selection=selected(["dev"]))
    head = gitutil.head_commit(deploy)
    with pytest.raises(api.UserError) as caught:
        apply_saved(out)
    message = str(caught.value)
    assert message.startswith("Saved plan is stale: ") and expected in message
    assert "Run 'mlopsctl plan --out' again" in message
    assert gitutil.head_commit(deploy) == head


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "is not a plan saved by 'mlopsctl plan --out'"),
        ('{"format_version": "9"}', "not a saved plan of format 1.0"),
        ('{"format_version": "1.0"}', "missing 'invocation'"),
    ],
)
def test_a_file_that_is_not_a_saved_plan(tmp_path: pathlib.Path, content: str, message: str) -> None:
    path = tmp_path / "plan.json"
    path.write_text(content)
    with pytest.raises(api.UserError, match=message):
        api.read_saved_plan(path)


def test_a_plan_made_without_a_repository_cannot_be_applied(source: pathlib.Path) -> None:
    out = source.parent / "plan.json"
    save_plan(source, out)
    with pytest.raises(api.UserError, match="was planned against no target; plan with --repo or --target"):
        apply_saved(out)


def test_parse_rejects_wrong_types() -> None:
    doc: dict[str, object] = {
        "format_version": "1.0",
        "invocation": {"config": 1, "ref": None, "envs": [], "regions": [], "target": None, "options": {}},
        "source_commit": None,
        "config_hashes": {},
        "state_hashes": {},
        "plan": {},
    }
    with pytest.raises(SavedPlanError, match="expected a string, got int"):
        parse_saved_plan(json.dumps(doc), "plan.json")


@pytest.mark.parametrize(
    "extra", [("--env", "prod"), ("mlops.yaml",), ("--target", "pulumi"), ("--repo", "deploy")]
)
def test_cli_apply_plan_takes_no_other_plan_options(tmp_path: pathlib.Path, extra: tuple[str, ...]) -> None:
    code, _, err = run("apply", "--plan", tmp_path / "plan.json", *extra)
    assert code == 1 and "--plan repeats the saved plan's FILE, environments, regions, --target" in err


def test_a_saved_plan_given_as_the_config_says_to_use_plan(
    source: pathlib.Path, deploy: pathlib.Path
) -> None:
    out = source.parent / "plan.json"
    _save(source, deploy, out, ("prod",))
    code, _, err = run("apply", out, "--repo", deploy)
    assert code == 1
    assert f"{out} is a plan saved by 'mlopsctl plan --out', not a config: apply it with --plan {out}" in err
    assert "E201" not in err
