from __future__ import annotations

import pytest

from mlopsctl.config.lock import Lock, LockEntry, Pin, dump_lock, parse_lock
from mlopsctl.config.target import Target

ENTRIES = {
    Target("prod", "us-central1"): LockEntry(
        {"project.stageImage": Pin("stages@sha256:" + "a" * 64), "x.version": Pin("2025-01")},
        {"train": "train-0123456789"},
    ),
    Target("prod", "europe-west4"): LockEntry({"x.version": Pin("1.10")}),
    Target("staging", "us-central1"): LockEntry({"x.version": Pin("true")}),
}
TEXT = """\
# The release each environment/region runs, written by 'mlopsctl promote'.
# Review changes to it like code; see docs/promotion.md.
environments:
  prod:
    europe-west4:
      pins:
        x.version: '1.10'
    us-central1:
      pins:
        project.stageImage: stages@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
        x.version: 2025-01
      pipelineVersions:
        train: train-0123456789
  staging:
    us-central1:
      pins:
        x.version: 'true'
lockVersion: 1
"""


def test_dump_is_sorted_and_round_trips() -> None:
    text = dump_lock(Lock("mlops.lock", ENTRIES))
    assert text == TEXT
    lock, found = parse_lock(text.encode(), "mlops.lock")
    assert found == [] and lock.entries == ENTRIES
    assert dump_lock(Lock("mlops.lock", dict(reversed(list(ENTRIES.items()))))) == text


def test_pins_keep_their_lines() -> None:
    lock, _ = parse_lock(TEXT.encode(), "mlops.lock")
    pin = lock.entries[Target("prod", "us-central1")].pins["x.version"]
    assert str(pin.position) == "mlops.lock:11:20"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("lockVersion: 2\n", ["mlops.lock:1:14: error E207: lockVersion must be 1"]),
        ("lockVersion: true\n", ["mlops.lock:1:14: error E207: lockVersion must be 1"]),
        ("lockVersion: 1.0\n", ["mlops.lock:1:14: error E207: lockVersion must be 1"]),
        ("lockVersion: 1\nenvironments: []\n", ["mlops.lock:2:15: error E207: expected a mapping"]),
        (
            "lockVersion: 1\nenvironments:\n  prod:\n    us-central1:\n      pins: {a.version: 3}\n",
            ["mlops.lock:5:25: error E207: expected a string"],
        ),
        (
            "lockVersion: 1\nextra: 1\n",
            ["mlops.lock:2:8: error E207: unknown key 'extra' in mlops.lock"],
        ),
    ],
)
def test_malformed_lock(text: str, expected: list[str]) -> None:
    _, found = parse_lock(text.encode(), "mlops.lock")
    assert [d.to_text().splitlines()[0] for d in found] == expected
