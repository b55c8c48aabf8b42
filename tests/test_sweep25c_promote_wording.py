"""Unseen-config sweep 25c: once every region of an environment runs the release of its source,
each region says it runs the release of that source environment, as ``status`` says it matches it."""

from __future__ import annotations

from helpers import validated
from releases import Releases, at

from mlopsctl import api
from mlopsctl.promote import commands
from mlopsctl.promote.assess import Stand


def test_every_current_region_names_the_source_environment_not_the_region_before(
    releases: Releases,
) -> None:
    r = releases
    r.write(r.config.read_text().replace("version: v2", "version: v1"), at(3))  # dev back to prod's release
    standings = commands.promote(r.promoter(at(4)), "prod", None, ()).standings
    assert [(str(s.target), s.stand, s.reason) for s in standings] == [
        ("prod/us-central1", Stand.CURRENT, "runs the release of staging"),
        ("prod/europe-west4", Stand.CURRENT, "runs the release of staging"),
    ]
    with validated(r.config) as validation:
        status = api.status(validation, r.deploy, now=at(4))
    europe = next(s for s in status.standings if str(s.target) == "prod/europe-west4")
    assert (europe.stand, europe.reason) == (Stand.CURRENT, "runs the release of staging")
