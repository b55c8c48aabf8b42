"""Environments sharing a GCP project and region share Vertex AI's metadata store and Model Registry;
an invalid cron expression says how to write one."""

from __future__ import annotations

import pathlib

import pytest
from helpers import CLF_API, MINIMAL, diagnostics
from pydantic import TypeAdapter, ValidationError

from mlopsctl.config.models.types import Cron

SHARED = MINIMAL.replace("gcpProject: acme-demo-prod", "gcpProject: acme-demo-dev")
"""dev and prod in one project; prod also in europe-west4, where dev is not."""
STORE = (
    "10:17: error E310: Vertex AI metadata store 'default' is used by dev/us-central1 and prod/us-central1 "
    "in project acme-demo-dev, location us-central1 (environments.prod)",
    "a GCP project has one Vertex AI metadata store 'default' per region, which tracking.experiments "
    "creates: give each environment its own gcpProject, or turn off tracking.experiments in one of them "
    "(under its overrides)",
)
MODEL = (
    "10:17: error E310: Model Registry model id 'demo-clf' is used by dev/us-central1 and prod/us-central1 "
    "in project acme-demo-dev, location us-central1 (environments.prod)",
    "Model Registry model ids (<project>-<model>) are unique per GCP project and region: give each "
    "environment its own gcpProject, or place one environment's endpoints on GKE (placement.endpoints: gke "
    "under its overrides)",
)
TRACKING = "tracking:\n  experiments: true\n"
VERTEX = CLF_API + "placement:\n  endpoints: vertex\n"


def _collisions(tmp_path: pathlib.Path, text: str) -> list[tuple[str, str | None]]:
    return [(m, h) for m, h in diagnostics(tmp_path, text) if " E310: " in m]


@pytest.mark.parametrize(
    ("sections", "expected"),
    [
        (TRACKING, [STORE]),
        (VERTEX, [MODEL]),
        (TRACKING + VERTEX, [MODEL, STORE]),
        (CLF_API + TRACKING.replace("true", "false"), []),  # nothing of Vertex AI's per project
    ],
)
def test_environments_sharing_a_project_and_region_collide_on_vertex_ai(
    sections: str, expected: list[tuple[str, str]], tmp_path: pathlib.Path
) -> None:
    assert _collisions(tmp_path, SHARED + sections) == expected


def test_environments_in_their_own_projects_do_not_collide(tmp_path: pathlib.Path) -> None:
    assert _collisions(tmp_path, MINIMAL + TRACKING + VERTEX) == []


def test_turning_tracking_off_in_one_environment_resolves_the_store(tmp_path: pathlib.Path) -> None:
    text = SHARED.replace(
        "    regions: [us-central1, europe-west4]\n",
        "    regions: [us-central1, europe-west4]\n    overrides:\n      tracking: {experiments: false}\n",
    )
    assert _collisions(tmp_path, text + TRACKING) == []


@pytest.mark.parametrize("cron", ["every hour", "0 3 * * 7", "61 * * * *"])
def test_an_invalid_cron_expression_carries_a_hint_with_the_five_fields(cron: str) -> None:
    """validate.py shows the hint once it reads the error's ``hint`` (see the report)."""
    with pytest.raises(ValidationError) as raised:
        TypeAdapter(Cron).validate_python(cron)
    [error] = raised.value.errors()
    assert error["type"] == "cron"
    assert (error.get("ctx") or {}).get("hint") == (
        "write five fields separated by spaces: minute hour day-of-month month day-of-week, "
        "e.g. '0 3 * * *' (03:00 every day) or '*/15 * * * 1-5' (every 15 minutes on weekdays)"
    )


def test_validate_shows_the_cron_hint(tmp_path: pathlib.Path) -> None:
    text = MINIMAL + 'pipelines:\n  p:\n    steps: {s: {image: "x:1", command: [run]}}\n'
    found = diagnostics(tmp_path, text + '    schedule: {cron: "every hour"}\n')
    [(first, hint)] = [(first, hint) for first, hint in found if "E305" in first]
    assert first.endswith("invalid cron expression 'every hour': it needs five fields, e.g. '0 3 * * *'")
    assert hint is not None and hint.startswith("write five fields separated by spaces")
