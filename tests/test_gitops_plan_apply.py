"""The gitops target through the library: plans against and applies to a deploy repository."""

from __future__ import annotations

import pathlib
import subprocess

import pytest
from gitops_cases import DEV, apply_to, plan_against, refused, unchanged
from gitrepos import commits, git, git_init_and_commit
from helpers import WITH_DATA, graph_sizes, plan_text, selected, write

from mlopsctl import api
from mlopsctl.config.target import Target


def test_plan_apply_plan_shows_no_changes(source: pathlib.Path, deploy: pathlib.Path) -> None:
    first = plan_against(deploy, source)
    assert first.plan.has_changes
    assert f"Plan: {sum(graph_sizes(source).values())} to add" in plan_text(first.plan)
    assert "Committed" in apply_to(deploy, source).outcome.detail
    again = plan_against(deploy, source)
    assert not again.plan.has_changes
    assert (
        plan_text(again.plan).rstrip().endswith("No changes. Your infrastructure matches the configuration.")
    )


def test_second_apply_makes_no_commit(source: pathlib.Path, deploy: pathlib.Path) -> None:
    apply_to(deploy, source)
    assert commits(deploy) == 1
    assert unchanged(apply_to(deploy, source))
    assert commits(deploy) == 1


def test_commit_message_has_plan_summary_and_source_commit(
    source: pathlib.Path, deploy: pathlib.Path
) -> None:
    apply_to(deploy, source)
    message = git(deploy, "log", "-1", "--format=%B")
    head = git(source.parent, "rev-parse", "HEAD").strip()
    sizes = graph_sizes(source)
    summary = f"Plan: {sum(sizes.values())} to add, 0 to change, 0 to destroy."
    assert message.startswith(f"mlopsctl apply demo: {summary}")
    assert f"Source commit: {head}" in message
    assert f"prod/europe-west4: +{sizes[Target('prod', 'europe-west4')]} ~0 -0" in message


def test_state_is_recorded_per_target(source: pathlib.Path, deploy: pathlib.Path) -> None:
    apply_to(deploy, source, selected(["prod"], ["europe-west4"]))
    states = sorted(p.relative_to(deploy).as_posix() for p in (deploy / ".mlopsctl").rglob("*.json"))
    assert states == [".mlopsctl/state/prod/europe-west4.json"]
    assert (deploy / "prod" / "europe-west4" / "kustomization.yaml").is_file()
    assert not (deploy / "dev").exists()


def test_update_is_planned_in_place(source: pathlib.Path, deploy: pathlib.Path) -> None:
    apply_to(deploy, source, DEV)
    source.write_text(WITH_DATA.replace("raw: {}", "raw: {versioning: false}"))
    text = plan_text(plan_against(deploy, source, DEV).plan)
    assert "# dev/us-central1/gcp:storage/bucket:Bucket/raw will be updated in-place" in text
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in text


def test_destroying_protected_resources_needs_allow_destroy(
    source: pathlib.Path, deploy: pathlib.Path
) -> None:
    apply_to(deploy, source, DEV)
    source.write_text(WITH_DATA.replace("    raw: {}\n", "    other: {}\n"))
    message = refused(deploy, source, DEV)
    assert (
        "  - dev/us-central1/gcp:storage/bucket:Bucket/raw (destroyed: no longer in the config)\n" in message
    )
    assert "--allow-destroy" in message
    assert commits(deploy) == 1
    assert apply_to(deploy, source, DEV, allow_destroy=True).plan.summary.destroy == 1
    assert commits(deploy) == 2


DEV_CLUSTER = "dev/us-central1/gcp:container/cluster:Cluster/demo-dev-usc1"
DEV_BUCKET = "dev/us-central1/gcp:storage/bucket:Bucket/raw"
DEV_DATASET = "dev/us-central1/gcp:bigquery/dataset:Dataset/features"
DEV_ONLY = WITH_DATA.replace("    regions: [us-central1, europe-west4]\n", "    regions: [us-central1]\n")
NO_DEV = DEV_ONLY.replace("  dev:\n    gcpProject: acme-demo-dev\n    regions: [us-central1]\n", "")
POOL = "accelerators:\n  batch: {type: cpu, spot: %s}\n"


@pytest.mark.parametrize(
    ("initial", "changed", "blocked", "replaced", "destroyed"),
    [
        pytest.param(
            DEV_ONLY, DEV_ONLY.replace("raw: {}", "other: {}"), [DEV_BUCKET], False, 2, id="bucket destroyed"
        ),
        pytest.param(
            DEV_ONLY,
            DEV_ONLY.replace("raw: {}", "raw: {location: EU}"),
            [DEV_BUCKET],
            True,
            2,
            id="bucket replaced",
        ),
        pytest.param(
            DEV_ONLY,
            DEV_ONLY + "security:\n  network: {masterCidr: 172.16.8.0/28}\n",
            [DEV_CLUSTER],
            True,
            2,
            id="cluster replaced",
        ),
        pytest.param(
            DEV_ONLY, NO_DEV, [DEV_CLUSTER, DEV_BUCKET, DEV_DATASET], False, None, id="environment removed"
        ),
        # A node pool holds no data: replacing it needs no allowance.
        pytest.param(
            DEV_ONLY + POOL % "false", DEV_ONLY + POOL % "true", [], True, 2, id="node pool replaced"
        ),
    ],
)
def test_protected_resources_are_neither_destroyed_nor_replaced_without_allow_destroy(
    tmp_path: pathlib.Path,
    initial: str,
    changed: str,
    blocked: list[str],
    replaced: bool,
    destroyed: int | None,
) -> None:
    """Each change is made in dev and prod alike (``destroyed`` counts both); None: all of dev."""
    source, deploy = write(tmp_path / "src", initial), tmp_path / "deploy"
    subprocess.run(["git", "init", "-q", str(deploy)], check=True)
    apply_to(deploy, source)
    applied_dev = graph_sizes(source)[Target("dev", "us-central1")]
    source.write_text(changed)
    plan = plan_text(plan_against(deploy, source).plan)
    assert ("must be replaced" in plan) is replaced, plan
    assert all(f"# {a} " in plan for a in blocked)  # the plan still renders them
    if blocked:
        message = refused(deploy, source) + "\n"
        what = "(replaced: " if replaced else "(destroyed: no longer in the config)"
        assert all(f"  - {a} {what}" in message for a in blocked), message
        lines = [line for line in message.splitlines() if line.startswith("  - ")]
        assert lines == sorted(lines)
        assert "--allow-destroy" in message and commits(deploy) == 1
    result = apply_to(deploy, source, allow_destroy=bool(blocked))
    assert commits(deploy) == 2
    assert result.plan.summary.destroy == (applied_dev if destroyed is None else destroyed)


def test_removed_environment_is_destroyed(source: pathlib.Path, deploy: pathlib.Path) -> None:
    apply_to(deploy, source)
    removed = graph_sizes(source)[Target("prod", "europe-west4")]
    source.write_text(
        WITH_DATA.replace("    regions: [us-central1, europe-west4]", "    regions: [us-central1]")
    )
    text = plan_text(plan_against(deploy, source).plan)
    assert "prod/europe-west4/gcp:storage/bucket:Bucket/raw will be destroyed" in text
    assert f"Plan: 0 to add, 0 to change, {removed} to destroy." in text
    assert apply_to(deploy, source, allow_destroy=True).outcome.changed
    assert not (deploy / "prod" / "europe-west4").exists()
    assert not (deploy / ".mlopsctl" / "state" / "prod" / "europe-west4.json").exists()
    prod = "  prod:\n    gcpProject: acme-demo-prod\n    regions: [us-central1, europe-west4]\n"
    source.write_text(WITH_DATA.replace(prod, ""))
    assert apply_to(deploy, source, allow_destroy=True).outcome.changed
    assert sorted(p.name for p in deploy.iterdir()) == [".git", ".mlopsctl", "dev"]
    assert sorted(p.name for p in (deploy / ".mlopsctl" / "state").iterdir()) == ["dev"]


def test_ref_reads_the_config_as_of_a_commit(source: pathlib.Path, deploy: pathlib.Path) -> None:
    first = git(source.parent, "rev-parse", "HEAD").strip()
    source.write_text(WITH_DATA.replace("    raw: {}\n", "    raw: {}\n    extra: {}\n"))
    git_init_and_commit(source.parent, "add bucket")
    source.write_text("this is: [not valid\n")  # the working tree is broken; the ref is not
    assert apply_to(deploy, source, ref=first).outcome.changed
    assert f"Source commit: {first}" in git(deploy, "log", "-1", "--format=%B")
    assert "extra" not in (deploy / "dev" / "us-central1" / "graph.json").read_text()
    summary = plan_against(deploy, source, ref="HEAD").plan.summary
    assert (summary.add, summary.change, summary.destroy) == (3, 0, 0)


def test_unknown_ref_is_a_user_error(source: pathlib.Path) -> None:
    with pytest.raises(api.UserError) as caught, api.open_config(source, "no-such-branch"):
        pass
    assert str(caught.value).startswith(
        "'no-such-branch' is not a commit, branch or tag of the repository at"
    )


def test_a_ref_of_a_config_outside_git_is_a_user_error(tmp_path: pathlib.Path) -> None:
    """Whether given as --ref or plan's --base, the message names the version asked for."""
    config = write(tmp_path / "plain", WITH_DATA)
    with pytest.raises(api.UserError) as caught, api.open_config(config, "main"):
        pass
    assert str(caught.value) == f"{config} is not in a Git repository, so it has no version 'main' to read"


def test_repo_that_is_not_a_git_repository(tmp_path: pathlib.Path, source: pathlib.Path) -> None:
    assert "git init" in refused(tmp_path / "nowhere", source)


def test_state_is_read_from_the_commit_not_the_working_tree(
    source: pathlib.Path, deploy: pathlib.Path
) -> None:
    apply_to(deploy, source, DEV)
    (deploy / ".mlopsctl" / "state" / "dev" / "us-central1.json").write_text("garbage")
    assert not plan_against(deploy, source, DEV).plan.has_changes


def test_a_repository_of_another_project_is_refused(source: pathlib.Path, deploy: pathlib.Path) -> None:
    apply_to(deploy, source, DEV)
    other = write(source.parent / "other", WITH_DATA.replace("name: demo", "name: other"))
    message = refused(deploy, other, DEV)
    assert "holds project 'demo'" in message and "one deploy repository per project" in message
    assert commits(deploy) == 1


def test_corrupt_committed_state_is_a_clear_error(source: pathlib.Path, deploy: pathlib.Path) -> None:
    apply_to(deploy, source, DEV)
    (deploy / ".mlopsctl" / "state" / "dev" / "us-central1.json").write_text('{"format_version": 1')
    git_init_and_commit(deploy, "break the state")
    with pytest.raises(api.UserError, match=r"cannot read \.mlopsctl/state/dev/us-central1\.json"):
        plan_against(deploy, source)


def test_a_refused_replacement_says_what_forces_it_and_where_the_config_sets_it(
    tmp_path: pathlib.Path,
) -> None:
    source, deploy = write(tmp_path / "src", DEV_ONLY), tmp_path / "deploy"
    subprocess.run(["git", "init", "-q", str(deploy)], check=True)
    apply_to(deploy, source)
    source.write_text(DEV_ONLY.replace("raw: {}", "raw: {location: EU}"))
    message = refused(deploy, source)
    assert f"  - {DEV_BUCKET} (replaced: location changed), from data.buckets.raw\n" in message, message
