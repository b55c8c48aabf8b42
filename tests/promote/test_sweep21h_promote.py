"""Unseen-config sweep: what promote and status say when --from is wrong, or when the applies of the
region before cannot count (a dirty config, a config outside Git, a shallow clone of the config)."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
from datetime import UTC, datetime

import pytest
from gitrepos import git
from helpers import validated
from releases import Releases, at

from mlopsctl import api
from mlopsctl.promote.assess import Stand, Standing


def _promote(r: Releases, to: str, from_env: str) -> str:
    with validated(r.config) as validation, pytest.raises(api.UserError) as caught:
        api.promote(validation, r.config, to, from_env=from_env, repo=r.deploy, now=datetime.now(UTC))
    return str(caught.value)


@pytest.mark.parametrize(
    ("to", "from_env", "advice"),
    [
        ("prod", "dev", "promote dev into staging first, or use --from staging"),
        ("staging", "prod", "releases do not flow from prod into dev; use --from dev"),
        (
            "prod",
            "prd",
            "--from prd is no environment (did you mean 'prod'?; declared: dev, staging, prod); "
            "use --from staging",
        ),
    ],
)
def test_a_wrong_from_gets_advice_that_fits_it(
    releases: Releases, to: str, from_env: str, advice: str
) -> None:
    before = releases.lock.read_bytes()
    message = _promote(releases, to, from_env)
    assert message.endswith(f"not from {from_env}: {advice}"), message
    assert releases.lock.read_bytes() == before


def _staging(config: pathlib.Path, deploy: pathlib.Path) -> Standing:
    with validated(config) as validation:
        proposal = api.status(validation, deploy, now=at(9))
    return next(s for s in proposal.standings if s.target.env == "staging")


def test_an_apply_from_a_dirty_config_is_named_as_why_the_region_waits(releases: Releases) -> None:
    r = releases
    assert _staging(r.config, r.deploy).stand is Stand.ELIGIBLE
    labelled = r.config.read_text().replace("acme-demo-dev\n", "acme-demo-dev\n    labels: {tier: dev}\n")
    r.config.write_text(labelled, encoding="utf-8")
    r.apply("dev", at(3))
    head = git(r.repo, "rev-parse", "HEAD").strip()
    standing = _staging(r.config, r.deploy)
    assert standing.stand is Stand.WAITING
    assert standing.reason.endswith(
        f"from a committed config (its last apply came from {head[:12]}-dirty, with uncommitted changes)"
    )


def test_a_config_outside_git_says_so_rather_than_asking_for_the_repo_given(
    releases: Releases, tmp_path: pathlib.Path
) -> None:
    copy = tmp_path / "outside"
    copy.mkdir()
    for name in ("mlops.yaml", "mlops.lock"):
        shutil.copy(releases.repo / name, copy / name)
    standing = _staging(copy / "mlops.yaml", releases.deploy)
    assert standing.stand is Stand.UNKNOWN
    assert "is not in Git, so the config commits of its applies cannot be read" in standing.reason
    assert "pass --repo" not in standing.reason


def test_a_shallow_clone_says_it_lacks_the_commit_instead_of_waiting(
    releases: Releases, tmp_path: pathlib.Path
) -> None:
    r = releases
    applied_from = git(r.repo, "rev-parse", "HEAD").strip()
    (r.repo / "NOTES.md").write_text("notes\n", encoding="utf-8")
    r.commit(at(3), "notes")
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", r.repo.as_uri(), str(clone)], check=True)
    assert _staging(r.config, r.deploy).stand is Stand.ELIGIBLE
    standing = _staging(clone / "mlops.yaml", r.deploy)
    assert standing.stand is Stand.UNKNOWN
    assert f"lacks the commit its last apply came from ({applied_from[:12]})" in standing.reason
