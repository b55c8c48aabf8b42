"""The fraud-tpu example's mlops.lock fits its config."""

from __future__ import annotations

import pathlib
import shutil
from datetime import UTC, datetime

from conftest import ROOT
from helpers import validated

from mlopsctl import api
from mlopsctl.config.target import Target
from mlopsctl.promote.assess import Proposal, Stand
from mlopsctl.views.promotion import render_status_text

FRAUD = ROOT / "examples" / "projects" / "fraud-tpu"


def _status(config: pathlib.Path) -> Proposal:
    """``api.status`` of ``config`` without a deploy repository."""
    with validated(config) as validation:
        return api.status(validation, None, now=datetime.now(UTC))


def test_the_example_lock_records_the_pipeline_versions_its_pins_compile_to() -> None:
    proposal = _status(FRAUD / "mlops.yaml")
    assert proposal.notes == ()
    [prod] = [s for s in proposal.standings if s.target == Target("prod", "us-central1")]
    assert (prod.runs.id, prod.locked, prod.follows) == ("faeb6cd2", True, Target("staging", "us-central1"))
    assert prod.runs.summary() == "scorer/challenger 2025-01, scorer/champion 2024-11, 2 images"
    assert prod.wants is not None and prod.wants.id == "39b55db7"
    assert (prod.stand, prod.reason) == (
        Stand.UNKNOWN,
        "cannot tell when staging/us-central1 applied it: pass --repo DEPLOY_REPO",
    )
    assert render_status_text(proposal).splitlines()[4:6] == [
        "prod/us-central1: release faeb6cd2 from mlops.lock "
        "(scorer/challenger 2025-01, scorer/champion 2024-11, 2 images)",
        "  behind staging (release 39b55db7): cannot tell when staging/us-central1 applied it: "
        "pass --repo DEPLOY_REPO",
    ]


def test_a_pipeline_changed_after_promotion_is_reported(tmp_path: pathlib.Path) -> None:
    shutil.copytree(FRAUD, tmp_path / "fraud")
    config = tmp_path / "fraud" / "mlops.yaml"
    config.write_text(config.read_text().replace("      epochs: 8\n", "      epochs: 9\n"))
    notes = _status(config).notes
    assert len(notes) == 3
    assert notes[0].startswith("prod/europe-west4: pipeline train compiles to train-")
    assert notes[0].endswith(
        ", mlops.lock records train-42b96c6728: mlops.yaml changed it since the last promotion"
    )
