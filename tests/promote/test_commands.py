"""Promotions and status through the library, printed by their views."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TypedDict

import pytest
from gitrepos import git
from helpers import validated, write
from releases import DRIFT_WAIVER, WAIVED, Releases, at

from mlopsctl import api
from mlopsctl.promote import assess
from mlopsctl.promote.assess import Release
from mlopsctl.views.outcomes import promotion_tail
from mlopsctl.views.promotion import render_promotion, render_status_json, render_status_text

V1, V2 = (Release({"endpoints.score.variants.main.version": v}).id for v in ("v1", "v2"))
DEV_APPLIED = "dev/us-central1 applied it at 2026-03-02T01:00:00Z, soak 0s"


def promote(
    config: pathlib.Path,
    to: str,
    *,
    from_env: str | None = None,
    regions: Sequence[str] = (),
    repo: pathlib.Path | None = None,
    mode: api.PromoteMode = "promote",
    dry_run: bool = False,
) -> str:
    """What ``promote`` prints: each region's move, then what was (or would be) written."""
    with validated(config) as validation:
        result = api.promote(
            validation,
            config,
            to,
            from_env=from_env,
            regions=regions,
            repo=repo,
            mode=mode,
            dry_run=dry_run,
            now=datetime.now(UTC),
        )
        return render_promotion(result.proposal, validation.lock) + promotion_tail(result, dry_run)


def status(config: pathlib.Path, repo: pathlib.Path | None = None) -> assess.Proposal:
    with validated(config) as validation:
        return api.status(validation, repo, now=datetime.now(UTC))


def pinned(r: Releases, env: str, region: str) -> str:
    lock = r.lock.read_text()
    return next(
        line.split(": ")[1]
        for line in lock.split(f"  {env}:\n", 1)[1].split(f"    {region}:\n", 1)[1].splitlines()
        if "main.version" in line
    )


def test_dry_run_prints_what_would_move_and_writes_nothing(releases: Releases) -> None:
    before = releases.lock.read_bytes()
    out = promote(releases.config, "staging", repo=releases.deploy, dry_run=True)
    assert releases.lock.read_bytes() == before
    assert out.splitlines()[:2] == [
        f"staging/us-central1: eligible now ({DEV_APPLIED})",
        "  endpoints.score.variants.main.version: v1 → v2",
    ]
    assert out.splitlines()[-1].endswith("mlops.lock for staging/us-central1; nothing was written.")
    assert git(releases.repo, "status", "--porcelain") == ""


def test_promote_writes_only_the_lock_and_rollback_restores_the_previous_entry(releases: Releases) -> None:
    r = releases
    promote(r.config, "staging", from_env="dev", repo=r.deploy)
    assert pinned(r, "staging", "us-central1") == "v2"
    assert git(r.repo, "status", "--porcelain") == " M mlops.lock\n"
    r.commit(at(2, 12), "promote staging")
    out = promote(r.config, "staging", mode="rollback")
    assert pinned(r, "staging", "us-central1") == "v1"
    assert out.splitlines()[:2] == [
        f"staging/us-central1: rolls back to release {V1} (its previous entry)",
        "  endpoints.score.variants.main.version: v2 → v1",
    ]


class Options(TypedDict, total=False):
    from_env: str
    regions: Sequence[str]
    repo: pathlib.Path | None
    mode: api.PromoteMode


@pytest.mark.parametrize(
    ("to", "options", "message"),
    [
        ("dev", {}, "dev is not promoted into: it has no promotion.from and runs mlops.yaml as written"),
        (
            "prod",
            {"from_env": "dev"},
            "prod is promoted from staging (environments.prod.promotion.from), not from dev: "
            "promote dev into staging first, or use --from staging",
        ),
        ("prd", {}, "--to prd: no such environment (did you mean 'prod'?; declared: dev, staging, prod)"),
        (
            "prod",
            {"regions": ["asia-east1"]},
            "--region asia-east1: prod has no such region (declared: us-central1, europe-west4)",
        ),
        (
            "prod",
            {"repo": None},
            "--repo DIR is required: the deploy repository tells what each region applied",
        ),
        (
            "prod",
            {"mode": "rollback", "repo": None},
            "prod/us-central1 has no earlier release in the Git history of mlops.lock to roll back to",
        ),
        (
            "prod",
            {"mode": "rollback", "from_env": "staging"},
            "--rollback and --adopt pin releases of the target itself: they take no --from",
        ),
    ],
)
def test_refusals(releases: Releases, to: str, options: Options, message: str) -> None:
    before = releases.lock.read_bytes()
    with pytest.raises(api.UserError) as caught:
        given: Options = {"repo": releases.deploy}
        given.update(options)
        promote(releases.config, to, **given)
    assert str(caught.value) == message
    assert releases.lock.read_bytes() == before


def test_a_failing_gate_blocks_the_region(releases: Releases) -> None:
    """The config loses a waiver, so the policies find an error in the proposed release."""
    r = releases
    r.config.write_text(r.config.read_text().replace(DRIFT_WAIVER, ""))
    before = r.lock.read_bytes()
    out = promote(r.config, "staging", repo=r.deploy)
    assert r.lock.read_bytes() == before
    blocked = (
        f"blocked by gate check: {r.config}:24:3: error MLP009: production endpoint 'score' has no drift "
        "monitor in prod (in prod/us-central1, prod/europe-west4)"
    )
    assert out.splitlines()[0] == f"staging/us-central1: {blocked}"
    assert out.splitlines()[-1] == "Nothing to promote now."


def test_status_text(releases: Releases) -> None:
    assert render_status_text(status(releases.config, releases.deploy)) == "\n".join(
        [
            f"dev/us-central1: release {V2} from mlops.yaml (score/main v2)",
            "  runs mlops.yaml as written",
            f"staging/us-central1: release {V1} from mlops.lock (score/main v1)",
            f"  behind dev (release {V2}): eligible now ({DEV_APPLIED})",
            f"prod/us-central1: release {V1} from mlops.lock (score/main v1)",
            "  matches staging",
            f"prod/europe-west4: release {V1} from mlops.lock (score/main v1)",
            "  matches staging",
            "",
        ]
    )


def test_status_json(releases: Releases) -> None:
    doc = json.loads(render_status_json(status(releases.config)))
    assert doc["notes"] == []
    assert [(t["env"], t["region"], t["stand"], t["matchesSource"]) for t in doc["targets"]] == [
        ("dev", "us-central1", "config", None),
        ("staging", "us-central1", "unknown", False),
        ("prod", "us-central1", "current", True),
        ("prod", "europe-west4", "current", True),
    ]
    assert doc["targets"][1] == {
        "env": "staging",
        "region": "us-central1",
        "follows": "dev/us-central1",
        "source": "dev",
        "matchesSource": False,
        "release": {"id": V1, "locked": True, "pins": {"endpoints.score.variants.main.version": "v1"}},
        "stand": "unknown",
        "reason": "cannot tell when dev/us-central1 applied it: pass --repo DEPLOY_REPO",
        "until": None,
    }


def test_adopt_pins_what_regions_run_now(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path, WAIVED)
    assert promote(config, "prod", mode="adopt").splitlines()[:2] == [
        f"prod/us-central1: pins release {V1} as it runs now",
        f"prod/europe-west4: pins release {V1} as it runs now",
    ]
    lock = (tmp_path / "mlops.lock").read_text()
    assert lock.count("endpoints.score.variants.main.version: v1") == 2 and "staging" not in lock
    assert promote(config, "prod", mode="adopt").splitlines()[-1] == "Nothing to promote now."


def test_promoting_into_an_environment_with_approval_says_so(releases: Releases) -> None:
    r = releases
    r.config.write_text(r.config.read_text().replace("soak: 72h}", "soak: 72h, approval: true}"))
    promote(r.config, "staging", repo=r.deploy)
    r.commit(at(2, 12), "promote staging")
    r.apply("staging", at(2, 13))
    assert promote(r.config, "prod", repo=r.deploy, dry_run=True).splitlines()[-2] == (
        "note: prod requires approval: have the commit of mlops.lock reviewed before applying it"
    )


@pytest.mark.parametrize("folder", ["missing", "plain"])
def test_a_repo_that_is_not_a_git_repository_is_refused(releases: Releases, folder: str) -> None:
    repo = releases.deploy.parent / folder
    if folder == "plain":
        repo.mkdir()
    message = (
        f"{repo} is not the root of a Git repository: "
        "--repo takes the deploy repository that apply commits to"
    )
    with pytest.raises(api.UserError) as caught:
        status(releases.config, repo)
    assert str(caught.value) == message
    before = releases.lock.read_bytes()
    with pytest.raises(api.UserError) as caught:
        promote(releases.config, "prod", repo=repo)
    assert str(caught.value) == message and releases.lock.read_bytes() == before


def test_a_deploy_repository_of_another_project_is_refused(releases: Releases) -> None:
    releases.apply("dev", at(1, 9))
    releases.config.write_text(releases.config.read_text().replace("  name: demo\n", "  name: other\n", 1))
    with pytest.raises(api.UserError) as caught:
        status(releases.config, releases.deploy)
    assert str(caught.value).startswith(f"{releases.deploy} holds project 'demo' (dev/")
    assert str(caught.value).endswith("not 'other': use one deploy repository per project")
