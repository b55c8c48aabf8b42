"""A mapping that must hold something and holds nothing (an overlay removed its only entry) says so
in words, not pydantic's "dictionary should have at least 1 item after validation"."""

from __future__ import annotations

import pathlib

from helpers import MINIMAL, diagnostics

TEXT = (
    MINIMAL.replace(
        "    regions: [us-central1, europe-west4]\n",
        "    regions: [us-central1, europe-west4]\n"
        "    overrides:\n      models: {clf: {versions: {v1: null}}}\n",
    )
    + "models:\n  clf:\n    framework: sklearn\n    versions:\n      v1: {artifactUri: gs://acme-models/clf/v1}\n"
)


def test_a_mapping_an_overlay_emptied_is_reported_as_empty(tmp_path: pathlib.Path) -> None:
    found = [(m, h) for m, h in diagnostics(tmp_path, TEXT) if " error " in m]
    assert [m.split(" error ", 1)[1] for m, _ in found] == [
        "E205: models.clf.versions is empty (or an overlay removed all it held) "
        "(in prod/us-central1, prod/europe-west4)"
    ]
    assert found[0][1] == "give at least 1 item"
