"""The benchmark scripts work: the generator writes projects mlopsctl accepts, the runner reports."""

from __future__ import annotations

import pathlib
import sys

import pytest
from conftest import ROOT
from helpers import run

sys.path.insert(0, str(ROOT / "benchmarks"))
import generate
import run as benchmark


def test_generated_project_is_valid_and_deterministic(tmp_path: pathlib.Path) -> None:
    first = generate.write(tmp_path / "a", endpoints=4, pipelines=2, regions=2)
    second = generate.write(tmp_path / "b", endpoints=4, pipelines=2, regions=2)
    assert first.read_bytes() == second.read_bytes()
    code, _, err = run("validate", first)
    assert (code, err) == (0, "")


def test_benchmark_runs_and_reports_every_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert benchmark.main(["--sizes", "2", "4", "--repeat", "1", "--regions", "1"]) == 0
    report = capsys.readouterr().out
    for heading in ("## Start-up", "## Size", "## Scaling"):
        assert heading in report
    assert "failed" not in report
