"""A step's timeout becomes a pod's activeDeadlineSeconds, which Kubernetes takes up to 2^31 - 1: a
longer one is refused where it is written, not by the cluster at run time."""

from __future__ import annotations

import pathlib

import pytest
from helpers import OWNED, diagnostics

STEP = OWNED + "pipelines:\n  p:\n    steps:\n      s: {image: x, command: [run], timeout: TIMEOUT}\n"


@pytest.mark.parametrize(("timeout", "refused"), [("24855d", False), ("24856d", True), ("100000d", True)])
def test_a_timeout_beyond_a_pods_deadline_is_refused_at_its_key(
    tmp_path: pathlib.Path, timeout: str, refused: bool
) -> None:
    text = STEP.replace("TIMEOUT", timeout)
    found = [m for m, _ in diagnostics(tmp_path, text) if " error " in m]
    column = text.splitlines()[-1].index(timeout) + 1
    line = len(text.splitlines())
    expected = (
        f"{line}:{column}: error E205: invalid pipelines.p.steps.s.timeout: a timeout of {timeout} is longer "
        "than Kubernetes takes for a pod's deadline (2147483647s, about 68 years): give a shorter one, or "
        "none for no limit"
    )
    assert found == ([expected] if refused else [])


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        (STEP.replace("TIMEOUT", "30"), "write it with its unit, e.g. '30s' or '30m' (s, m, h or d)"),
        (STEP.replace("TIMEOUT", "1h").replace("image: x", "image: 5"), "quote it: '5'"),
    ],
    ids=["a duration", "another string"],
)
def test_a_bare_number_for_a_duration_is_told_its_unit(tmp_path: pathlib.Path, text: str, hint: str) -> None:
    """Quoting 30 would only trade E202 for E306: a duration needs its unit."""
    [(message, found)] = [(m, h) for m, h in diagnostics(tmp_path, text) if " E202: " in m]
    assert found == hint, message
