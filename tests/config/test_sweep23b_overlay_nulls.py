"""An overlay's ``null`` removes a key; found by a mutation sweep: a ``null`` under a section the base
document lacks was kept as a value (``accelerators.gone must be a mapping, not null``), and a
misspelt one removed nothing without a word, leaving in place what was meant to go."""

from __future__ import annotations

import pathlib

import pytest
from helpers import MINIMAL, Diagnostics, Edits, diagnostics, edited

BASE = (
    MINIMAL
    + """\
    overrides:
      data:
        buckets:
          raw: {versioning: false}
data:
  buckets:
    raw: {}
    scratch: {}
"""
)

CASES: dict[str, tuple[Edits, Diagnostics]] = {
    "valid": ([], []),
    "a misspelt removal says so, with the name meant": (
        [("          raw: {versioning: false}\n", "          scrach: null\n")],
        [
            (
                "15:19: warning W304: 'scrach: null' removes nothing: there is no data.buckets.scrach to "
                "remove (in prod/us-central1, prod/europe-west4)",
                "did you mean 'scratch'?",
            )
        ],
    ),
    "a null under a section the base lacks removes nothing, and is no value": (
        [("      data:\n", "      accelerators:\n        gone: null\n      data:\n")],
        [
            (
                "14:15: warning W304: 'gone: null' removes nothing: there is no accelerators.gone to remove "
                "(in prod/us-central1, prod/europe-west4)",
                "remove the line, or name what the overlay should remove",
            )
        ],
    ),
    "a null that removes a key is silent": (
        [("          raw: {versioning: false}\n", "          scratch: null\n")],
        [],
    ),
    "a region override may remove what the environment's override added": (
        [
            (
                "    overrides:\n",
                "    regionOverrides:\n      europe-west4:\n        data:\n          buckets:\n"
                "            extra: null\n    overrides:\n",
            ),
            (
                "          raw: {versioning: false}\n",
                "          raw: {versioning: false}\n          extra: {}\n",
            ),
        ],
        [],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_overlay_nulls(tmp_path: pathlib.Path, name: str) -> None:
    edits, expected = CASES[name]
    assert diagnostics(tmp_path, edited(BASE, edits)) == expected
