"""The fraud-tpu example's mlops.lock fits its config."""

from __future__ import annotations

import pathlib
import shutil

from conftest import ROOT
from helpers import run

FRAUD = ROOT / "examples" / "projects" / "fraud-tpu"


def test_the_example_lock_records_the_pipeline_versions_its_pins_compile_to() -> None:
    code, out, err = run("status", FRAUD / "mlops.yaml")
    assert (code, err) == (0, "") and "note:" not in out
    assert out.splitlines()[4:6] == [
        "prod/us-central1: release faeb6cd2 from mlops.lock "
        "(scorer/challenger 2025-01, scorer/champion 2024-11, 2 images)",
        "  behind staging (release 39b55db7): cannot tell when staging/us-central1 applied it: "
        "pass --repo DEPLOY_REPO",
    ]


def test_a_pipeline_changed_after_promotion_is_reported(tmp_path: pathlib.Path) -> None:
    shutil.copytree(FRAUD, tmp_path / "fraud")
    config = tmp_path / "fraud" / "mlops.yaml"
    config.write_text(config.read_text().replace("      epochs: 8\n", "      epochs: 9\n"))
    code, out, _ = run("status", config)
    notes = [line for line in out.splitlines() if line.startswith("note:")]
    assert code == 0 and len(notes) == 3
    assert notes[0].startswith("note: prod/europe-west4: pipeline train compiles to train-")
    assert notes[0].endswith(
        ", mlops.lock records train-070180956a: mlops.yaml changed it since the last promotion"
    )
