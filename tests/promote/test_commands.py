"""``mlopsctl promote`` and ``mlopsctl status`` on the command line."""

from __future__ import annotations

import json
import pathlib

import pytest
from gitrepos import git
from helpers import run, write
from releases import CHAIN, Releases, at

from mlopsctl.config.diagnostics import Diagnostic
from mlopsctl.promote import assess
from mlopsctl.promote.assess import Release

V1, V2 = (Release({"endpoints.score.variants.main.version": v}).id for v in ("v1", "v2"))
DEV_APPLIED = "dev/us-central1 applied it at 2026-03-02T01:00:00Z, soak 0s"

pytestmark = pytest.mark.usefixtures("policies_pass")


def pinned(r: Releases, env: str, region: str) -> str:
    lock = r.lock.read_text()
    return next(
        line.split(": ")[1]
        for line in lock.split(f"  {env}:\n", 1)[1].split(f"    {region}:\n", 1)[1].splitlines()
        if "main.version" in line
    )


def test_dry_run_prints_what_would_move_and_writes_nothing(releases: Releases) -> None:
    before = releases.lock.read_bytes()
    code, out, _ = run("promote", "--to", "staging", "--repo", releases.deploy, "--dry-run", releases.config)
    assert code == 0 and releases.lock.read_bytes() == before
    assert out.splitlines()[:2] == [
        f"staging/us-central1: eligible now ({DEV_APPLIED})",
        "  endpoints.score.variants.main.version: v1 → v2",
    ]
    assert out.splitlines()[-1].endswith("mlops.lock for staging/us-central1; nothing was written.")
    assert git(releases.repo, "status", "--porcelain") == ""


def test_promote_writes_only_the_lock_and_rollback_restores_the_previous_entry(releases: Releases) -> None:
    r = releases
    code, out, _ = run("promote", "--from", "dev", "--to", "staging", "--repo", r.deploy, r.config)
    assert code == 0 and pinned(r, "staging", "us-central1") == "v2"
    assert git(r.repo, "status", "--porcelain") == " M mlops.lock\n"
    r.commit(at(2, 12), "promote staging")
    code, out, _ = run("promote", "--to", "staging", "--rollback", r.config)
    assert code == 0 and pinned(r, "staging", "us-central1") == "v1"
    assert out.splitlines()[:2] == [
        f"staging/us-central1: rolls back to release {V1} (its previous entry)",
        "  endpoints.score.variants.main.version: v2 → v1",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--to", "dev"],
            "dev is not promoted into: it has no promotion.from and runs mlops.yaml as written",
        ),
        (
            ["--to", "prod", "--from", "dev"],
            "prod is promoted from staging (environments.prod.promotion.from), not from dev: "
            "promote dev into staging first, or use --from staging",
        ),
        (
            ["--to", "prd"],
            "--to prd: no such environment (did you mean 'prod'?; declared: dev, staging, prod)",
        ),
        (
            ["--to", "prod", "--region", "asia-east1"],
            "--region asia-east1: prod has no such region (declared: us-central1, europe-west4)",
        ),
        (
            ["--to", "prod", "--no-repo"],
            "--repo DIR is required: the deploy repository tells what each region applied",
        ),
        (
            ["--to", "prod", "--rollback", "--no-repo"],
            "prod/us-central1 has no earlier release in the Git history of mlops.lock to roll back to",
        ),
        (
            ["--to", "prod", "--rollback", "--from", "staging"],
            "--rollback and --adopt pin releases of the target itself: they take no --from",
        ),
    ],
)
def test_refusals(releases: Releases, args: list[str], message: str) -> None:
    repo = [] if "--no-repo" in args else ["--repo", str(releases.deploy)]
    before = releases.lock.read_bytes()
    code, _, err = run("promote", *[a for a in args if a != "--no-repo"], *repo, releases.config)
    assert (code, err) == (1, f"error: {message}\n")
    assert releases.lock.read_bytes() == before


def test_a_failing_gate_blocks_the_region(releases: Releases, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        assess, "_policy_errors", lambda validation: [Diagnostic("E301", "model clf has no owner")]
    )
    before = releases.lock.read_bytes()
    code, out, _ = run("promote", "--to", "staging", "--repo", releases.deploy, releases.config)
    assert code == 0 and releases.lock.read_bytes() == before
    blocked = "blocked by gate check: error E301: model clf has no owner"
    assert out.splitlines()[0] == f"staging/us-central1: {blocked}"
    assert out.splitlines()[-1] == "Nothing to promote now."


def test_status_text(releases: Releases) -> None:
    code, out, _ = run("status", "--repo", releases.deploy, releases.config)
    assert code == 0
    assert out == "\n".join(
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
    code, out, _ = run("status", "--format", "json", releases.config)
    doc = json.loads(out)
    assert code == 0 and doc["notes"] == []
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
    config = write(tmp_path, CHAIN)
    code, out, _ = run("promote", "--to", "prod", "--adopt", config)
    assert code == 0 and out.splitlines()[:2] == [
        f"prod/us-central1: pins release {V1} as it runs now",
        f"prod/europe-west4: pins release {V1} as it runs now",
    ]
    lock = (tmp_path / "mlops.lock").read_text()
    assert lock.count("endpoints.score.variants.main.version: v1") == 2 and "staging" not in lock
    code, out, _ = run("promote", "--to", "prod", "--adopt", config)
    assert out.splitlines()[-1] == "Nothing to promote now."


def test_promoting_into_an_environment_with_approval_says_so(releases: Releases) -> None:
    r = releases
    r.config.write_text(r.config.read_text().replace("soak: 72h}", "soak: 72h, approval: true}"))
    run("promote", "--to", "staging", "--repo", r.deploy, r.config)
    r.commit(at(2, 12), "promote staging")
    r.apply("staging", at(2, 13))
    code, out, _ = run("promote", "--to", "prod", "--repo", r.deploy, "--dry-run", r.config)
    assert code == 0 and out.splitlines()[-2] == (
        "note: prod requires approval: have the commit of mlops.lock reviewed before applying it"
    )
