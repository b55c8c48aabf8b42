"""The benchmark generator writes projects that mlopsctl accepts."""

from __future__ import annotations

import pathlib
import sys

from conftest import ROOT
from helpers import run

sys.path.insert(0, str(ROOT / "benchmarks"))
import generate


def test_generated_project_is_valid_and_deterministic(tmp_path: pathlib.Path) -> None:
    first = generate.write(tmp_path / "a", endpoints=4, pipelines=2, regions=2)
    second = generate.write(tmp_path / "b", endpoints=4, pipelines=2, regions=2)
    assert first.read_bytes() == second.read_bytes()
    code, _, err = run("validate", first)
    assert (code, err) == (0, "")
