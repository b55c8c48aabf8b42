"""Modules stay small: none over 400 lines (the project's readability rule)."""

from __future__ import annotations

import pathlib

import pytest
from conftest import ROOT

LIMIT = 400
PACKAGES = ("mlopsctl", "stage/mlopsctl_stage", "benchmarks", "tests")


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_is_over_the_limit(package: str) -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for path in sorted((ROOT / package).rglob("*.py"))
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > LIMIT
    }
    assert long == {}, f"split these modules (lines over {LIMIT}): {long}"


def test_the_rule_sees_the_modules() -> None:
    assert len(list(pathlib.Path(ROOT, "mlopsctl").rglob("*.py"))) > 100
