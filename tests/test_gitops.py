"""The gitops target through the library: plans against and applies to a deploy repository."""

from __future__ import annotations

import pathlib
import subprocess
from typing import Any

import pytest
from gitrepos import commits, git, git_init_and_commit
from helpers import WITH_DATA, applied, graph_sizes, plan_text, planned, selected, write

from mlopsctl import api
from mlopsctl.api import ApplyResult, PlanResult
from mlopsctl.config.target import Target
from mlopsctl.io import gitutil
from mlopsctl.output import gitops

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
    assert "dev/us-central1/gcp:storage/bucket:Bucket/raw" in message and "--allow-destroy" in message
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
        assert all(f"  - {a}\n" in message for a in blocked), message
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


@pytest.mark.parametrize("failing", ["hash-object", "write-tree", "commit-tree", "update-ref"])
def test_an_apply_that_fails_changes_nothing_and_a_rerun_completes(
    source: pathlib.Path, deploy: pathlib.Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    apply_to(deploy, source, DEV)
    source.write_text(WITH_DATA.replace("raw: {}", "raw: {versioning: false}"))
    before = (git(deploy, "rev-parse", "HEAD"), _worktree(deploy))
    real = gitutil.git

    def broken(args: list[str], *rest: Any, **options: Any) -> bytes:
        if args[0] == failing:
            raise gitutil.GitError(f"git {failing} failed: simulated")
        return real(args, *rest, **options)

    monkeypatch.setattr(gitutil, "git", broken)
    assert "nothing was committed" in refused(deploy, source, DEV)
    assert (git(deploy, "rev-parse", "HEAD"), _worktree(deploy)) == before
    monkeypatch.setattr(gitutil, "git", real)
    assert apply_to(deploy, source, DEV).plan.summary.change == 1
    assert git(deploy, "status", "--porcelain") == ""


def _interrupt(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the next apply stop (as by Ctrl-C) after its commit, before the working tree is updated."""

    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(gitops.GitopsTarget, "_sync_worktree", interrupted)


def test_an_apply_interrupted_after_its_commit_is_completed_by_a_rerun(
    source: pathlib.Path, deploy: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _interrupt(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        apply_to(deploy, source, DEV)
    assert commits(deploy) == 1
    monkeypatch.undo()
    assert unchanged(apply_to(deploy, source, DEV))
    assert commits(deploy) == 1 and git(deploy, "status", "--porcelain") == ""
    assert (deploy / "dev" / "us-central1" / "kustomization.yaml").is_file()


def test_a_concurrent_commit_is_not_overwritten(
    source: pathlib.Path, deploy: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    apply_to(deploy, source, DEV)
    real = gitutil.git

    def racing(args: list[str], *rest: Any, **options: Any) -> bytes:
        if args[0] == "commit-tree":
            (deploy / "README.md").write_text("someone else\n")
            git_init_and_commit(deploy, "concurrent change")
        return real(args, *rest, **options)

    monkeypatch.setattr(gitutil, "git", racing)
    source.write_text(WITH_DATA.replace("raw: {}", "raw: {versioning: false}"))
    assert "nothing was committed" in refused(deploy, source, DEV)
    assert git(deploy, "log", "-1", "--format=%s").strip() == "concurrent change"


def _worktree(repo: pathlib.Path) -> dict[str, bytes]:
    return {
        p.relative_to(repo).as_posix(): p.read_bytes()
        for p in sorted(repo.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(repo).parts
    }


def test_uncommitted_config_is_marked_dirty(source: pathlib.Path, deploy: pathlib.Path) -> None:
    source.write_text(WITH_DATA.replace("raw: {}", "raw: {versioning: false}"))
    apply_to(deploy, source, DEV)
    head = git(source.parent, "rev-parse", "HEAD").strip()
    assert f"Source commit: {head}-dirty" in git(deploy, "log", "-1", "--format=%B")


def test_a_commit_between_plan_and_apply_is_not_overwritten(
    source: pathlib.Path, deploy: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    apply_to(deploy, source, DEV)
    read_state = gitops.GitopsTarget.applied

    def then_someone_commits(self: gitops.GitopsTarget, project: str) -> Any:
        states = read_state(self, project)
        (deploy / "README.md").write_text("someone else\n")
        git_init_and_commit(deploy, "concurrent change")
        return states

    monkeypatch.setattr(gitops.GitopsTarget, "applied", then_someone_commits)
    source.write_text(WITH_DATA.replace("raw: {}", "raw: {versioning: false}"))
    assert "nothing was committed" in refused(deploy, source, DEV)
    assert git(deploy, "log", "-1", "--format=%s").strip() == "concurrent change"


def test_a_new_source_commit_alone_makes_no_deploy_commit(source: pathlib.Path, deploy: pathlib.Path) -> None:
    apply_to(deploy, source)
    (source.parent / "NOTES.md").write_text("unrelated\n")
    git_init_and_commit(source.parent, "notes")
    assert unchanged(apply_to(deploy, source))
    assert commits(deploy) == 1


def test_untracked_files_beside_the_config_do_not_make_it_dirty(
    source: pathlib.Path, deploy: pathlib.Path
) -> None:
    (source.parent / "plan.txt").write_text("scratch\n")
    apply_to(deploy, source, DEV)
    assert "-dirty" not in git(deploy, "log", "-1", "--format=%B")


def test_a_failed_working_tree_update_says_the_commit_was_made(
    source: pathlib.Path, deploy: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(gitops, "write_targets", broken)
    message = refused(deploy, source, DEV)
    assert message.startswith("committed ") and "rerun" in message
    monkeypatch.undo()
    assert unchanged(apply_to(deploy, source, DEV))
    assert git(deploy, "status", "--porcelain") == ""


def _edit(path: pathlib.Path) -> None:
    path.write_text(path.read_text() + "# mine\n")


def _stage_edit(path: pathlib.Path) -> None:
    _edit(path)
    git(path.parents[2], "add", str(path))


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
    source: pathlib.Path, deploy: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a dead apply left is its own to finish; a file edited since is someone's work."""
    apply_to(deploy, source, DEV)
    source.write_text(WITH_DATA.replace("raw: {}", "raw: {versioning: false}"))
    _interrupt(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        apply_to(deploy, source, DEV)
    monkeypatch.undo()
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
