"""Promotion order and soak, with Git commits at chosen times and an injected clock."""

from __future__ import annotations

from releases import Releases, at

from mlopsctl.config.lock import dump_lock
from mlopsctl.io.fileio import write_atomic
from mlopsctl.promote import commands
from mlopsctl.promote.assess import Proposal, Release, Stand

V1, V2 = (Release({"endpoints.score.variants.main.version": v}).id for v in ("v1", "v2"))


def stands(proposal: Proposal) -> list[tuple[str, Stand, str]]:
    return [(str(s.target), s.stand, s.reason) for s in proposal.standings]


def promote(r: Releases, env: str, moment: int) -> Proposal:
    """Promote into ``env`` on day ``moment`` at noon, and commit the lock."""
    proposal = commands.promote(r.promoter(at(moment, 12)), env, None, ())
    write_atomic(r.lock, dump_lock(proposal.lock))
    r.commit(at(moment, 12), f"promote {env}")
    return proposal


def test_a_release_rolls_through_environments_and_regions_after_each_soak(releases: Releases) -> None:
    r = releases
    applied = "dev/us-central1 applied it at 2026-03-02T01:00:00Z, soak 0s"
    assert [s for s in stands(promote(r, "staging", 2)) if s[0] == "staging/us-central1"] == [
        ("staging/us-central1", Stand.ELIGIBLE, f"eligible now ({applied})")
    ]
    assert stands(commands.promote(r.promoter(at(3)), "prod", None, ())) == [
        ("prod/us-central1", Stand.WAITING, f"waiting for staging/us-central1 to apply release {V2}"),
        ("prod/europe-west4", Stand.WAITING, f"waiting for prod/us-central1 (it runs release {V1})"),
    ]
    r.apply("staging", at(3, 6))
    applied = "staging/us-central1 applied it at 2026-03-03T06:00:00Z, soak 24h"
    assert stands(commands.promote(r.promoter(at(4, 5)), "prod", None, ()))[0] == (
        "prod/us-central1",
        Stand.SOAKING,
        f"soaking until 2026-03-04T06:00:00Z ({applied})",
    )
    proposal = promote(r, "prod", 4)
    assert list(map(str, proposal.moved)) == ["prod/us-central1"]
    entry = proposal.moved[next(iter(proposal.moved))]
    assert entry.values() == {"endpoints.score.variants.main.version": "v2"}
    r.apply("prod", at(5))
    assert stands(commands.promote(r.promoter(at(7, 23)), "prod", None, ()))[1][1:] == (
        Stand.SOAKING,
        "soaking until 2026-03-08T00:00:00Z (prod/us-central1 applied it at 2026-03-05T00:00:00Z, soak 72h)",
    )
    proposal = promote(r, "prod", 8)
    assert list(map(str, proposal.moved)) == ["prod/europe-west4"]
    r.apply("prod", at(8, 13))
    assert [s[1] for s in stands(commands.status(r.promoter(at(9))))] == [Stand.CONFIG] + [Stand.CURRENT] * 3


def test_a_region_waits_while_the_one_before_it_runs_another_release(releases: Releases) -> None:
    r = releases
    promote(r, "staging", 2)
    r.apply("staging", at(2, 13))
    proposal = commands.promote(r.promoter(at(9)), "prod", None, ("europe-west4",))
    assert proposal.moved == {}
    assert stands(proposal)[1][1:] == (Stand.WAITING, f"waiting for prod/us-central1 (it runs release {V1})")


def test_a_later_apply_of_another_release_restarts_the_soak(releases: Releases) -> None:
    r = releases
    r.write(r.config.read_text().replace("version: v2", "version: v1"), at(3))
    r.apply("dev", at(3, 1))
    r.write(r.config.read_text().replace("version: v1", "version: v2"), at(4))
    r.apply("dev", at(4, 1))
    proposal = commands.promote(r.promoter(at(4, 2)), "staging", None, ())
    assert "dev/us-central1 applied it at 2026-03-04T01:00:00Z" in proposal.standings[0].reason


def test_a_release_the_target_cannot_run_is_blocked_by_validate(releases: Releases) -> None:
    r = releases
    promote(r, "staging", 2)
    r.apply("staging", at(2, 13))
    promotion = "    promotion: {from: staging, soak: 72h}\n"
    no_v2 = promotion + "    overrides: {models: {clf: {versions: {v2: null}}}}\n"
    r.write(r.config.read_text().replace(promotion, no_v2), at(3))
    proposal = commands.promote(r.promoter(at(9)), "prod", None, ())
    assert proposal.moved == {} and proposal.lock == r.promoter(at(9)).validation.lock
    assert stands(proposal)[0][1:] == (
        Stand.BLOCKED,
        f"blocked by gate validate: {r.lock}:10:48: error E313: endpoints.score.variants.main.version is "
        "pinned to version 'v2' of model 'clf', which is not declared (in prod/us-central1)",
    )
