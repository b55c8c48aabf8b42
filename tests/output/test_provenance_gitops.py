"""The gitops target across config commits: a commit that changes only provenance rewrites nothing in
the deploy repository; a real change rewrites only what changed, with the new commit."""

from __future__ import annotations

import pathlib

from gitrepos import commits, git, git_init_and_commit
from helpers import CLF_API, OWNED_STAGED_DATA, applied, stamped_commit, write

from mlopsctl import api

CONFIG = OWNED_STAGED_DATA + CLF_API
MAIN = "      main: {model: clf, version: v1}\n"
ISVC_FILE = "dev/us-central1/manifests/inferenceservice-api-main.yaml"


def _commit(path: pathlib.Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    git_init_and_commit(path.parent, "config")
    return str(git(path.parent, "rev-parse", "HEAD")).strip()


def _files(repo: pathlib.Path) -> dict[str, bytes]:
    return {
        p.relative_to(repo).as_posix(): p.read_bytes()
        for p in repo.rglob("*")
        if p.is_file() and ".git" not in p.parts
    }


def _apply(path: pathlib.Path, deploy: pathlib.Path) -> api.ApplyResult:
    return applied(path, api.TargetSpec(repo=deploy))


def test_applying_a_later_commit_that_changes_only_provenance_commits_nothing(
    tmp_path: pathlib.Path, deploy: pathlib.Path
) -> None:
    path = write(tmp_path / "src", "")
    first = _commit(path, CONFIG)
    _apply(path, deploy)
    before = _files(deploy)
    assert stamped_commit(before[ISVC_FILE]) == first
    _commit(path, "# every line moves\n\n" + CONFIG)
    result = _apply(path, deploy)
    assert not result.plan.has_changes and not result.outcome.changed
    assert commits(deploy) == 1 and _files(deploy) == before


def test_a_real_change_rewrites_only_its_objects_with_the_new_commit(
    tmp_path: pathlib.Path, deploy: pathlib.Path
) -> None:
    path = write(tmp_path / "src", "")
    first = _commit(path, CONFIG)
    _apply(path, deploy)
    before = _files(deploy)
    second = _commit(path, "# scale out\n" + CONFIG.replace(MAIN, MAIN.replace("v1}", "v1, maxReplicas: 5}")))
    assert "Committed" in _apply(path, deploy).outcome.detail and commits(deploy) == 2
    after = _files(deploy)
    changed = {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}
    manifests = {name for name in changed if "/manifests/" in name}
    assert ISVC_FILE in manifests and all("api-main" in name for name in manifests), sorted(manifests)
    assert stamped_commit(after[ISVC_FILE]) == second
    kept = [n for n, content in after.items() if n.endswith(".yaml") and n not in changed]
    assert kept and all(second.encode() not in after[n] for n in kept)
    assert any(first.encode() in after[n] for n in kept)


def test_a_committed_config_is_recorded_over_an_apply_from_uncommitted_changes(
    tmp_path: pathlib.Path, deploy: pathlib.Path
) -> None:
    """Promotion counts only applies of committed configs: after an apply from uncommitted changes,
    applying the same configuration once committed records its commit (the state alone changes);
    applying again then changes nothing."""
    path = write(tmp_path / "src", "")
    _commit(path, CONFIG)
    path.write_text("# being edited\n" + CONFIG, encoding="utf-8")
    _apply(path, deploy)
    state = "dev/us-central1.json"
    recorded = git(deploy, "show", f"HEAD:.mlopsctl/state/{state}")
    assert '-dirty"' in recorded
    before = _files(deploy)
    clean = _commit(path, path.read_text(encoding="utf-8"))
    result = _apply(path, deploy)
    assert result.outcome.changed and not result.plan.has_changes and commits(deploy) == 2
    after = _files(deploy)
    assert {n for n in before.keys() | after.keys() if before.get(n) != after.get(n)} == {
        f".mlopsctl/state/{s}"
        for s in ("dev/us-central1.json", "prod/us-central1.json", "prod/europe-west4.json")
    }
    assert f'"source_commit": "{clean}"' in git(deploy, "show", f"HEAD:.mlopsctl/state/{state}")
    assert not _apply(path, deploy).outcome.changed and commits(deploy) == 2
