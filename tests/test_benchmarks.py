"""The benchmark scripts work: the generator writes projects mlopsctl accepts, the runner reports."""

from __future__ import annotations

import pathlib
import shutil
import sys

import pytest
from conftest import ROOT
from helpers import run

sys.path.insert(0, str(ROOT / "benchmarks"))
import generate
import run as benchmark
from run import KUSTOMIZE, Measurement


def test_generated_project_is_valid_and_deterministic(tmp_path: pathlib.Path) -> None:
    first = generate.write(tmp_path / "a", endpoints=4, pipelines=2, regions=2)
    second = generate.write(tmp_path / "b", endpoints=4, pipelines=2, regions=2)
    assert first.read_bytes() == second.read_bytes()
    code, _, err = run("validate", first)
    assert (code, err) == (0, "")


def test_benchmark_runs_and_reports_every_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert benchmark.main(["--sizes", "2", "4", "--repeat", "1", "--regions", "1"]) == 0
    report = capsys.readouterr().out
    for heading in ("## Start-up", "## Size", "## Render against kustomize", "## Scaling", "## Targets"):
        assert heading in report
    assert "failed" not in report
    assert ("`kubectl kustomize` (every folder)" in report) == (shutil.which("kubectl") is not None)


def test_kustomize_without_a_render_is_a_failure(tmp_path: pathlib.Path) -> None:
    found = benchmark.measure_kustomize("kubectl", tmp_path, 1)
    assert found.failure == f"no kustomization under {tmp_path}"


def at(size: int, **seconds: float) -> dict[tuple[int, str], Measurement]:
    return {(size, command): Measurement(s, 100.0) for command, s in seconds.items()}


@pytest.mark.parametrize(
    ("results", "measured", "met"),
    [
        (at(200, render=10.0, kustomize=50.0), "0.20x", True),
        (at(200, render=10.0, kustomize=20.0), "0.50x", False),
        (at(50, render=1.0, kustomize=50.0), "-", None),  # judged at the benchmark config's size only
    ],
)
def test_render_is_judged_against_kustomize(
    results: dict[tuple[int, str], Measurement], measured: str, met: bool | None
) -> None:
    assert benchmark.render_target(results)[1:] == (measured, met)


@pytest.mark.parametrize(
    ("plan", "measured", "met"),
    [
        (Measurement(4.5, 290.0), "4.50 s, 290 MiB", True),
        (Measurement(4.5, 310.0), "4.50 s, 310 MiB", False),
        (Measurement(5.5, 100.0), "5.50 s, 100 MiB", False),
        (Measurement(1.0, 1.0, failure="exit 1: boom"), "-", None),
    ],
)
def test_plan_is_judged_on_time_and_memory(plan: Measurement, measured: str, met: bool | None) -> None:
    assert benchmark.plan_target({(200, "plan"): plan})[1:] == (measured, met)


@pytest.mark.parametrize(
    ("sizes", "seconds", "met"),
    [
        ((10, 200, 1000), (1.0, 20.0, 120.0), True),  # 100 ms then 125 ms per added endpoint
        ((10, 200, 1000), (1.0, 20.0, 400.0), False),  # 100 ms then 475 ms
        ((10, 50, 200), (1.0, 5.0, 20.0), None),  # linear so far, but 1,000 endpoints were not measured
    ],
)
def test_linear_growth_is_judged_up_to_1000_endpoints(
    sizes: tuple[int, ...], seconds: tuple[float, ...], met: bool | None
) -> None:
    results = {
        (n, c): Measurement(s, 1.0) for n, s in zip(sizes, seconds, strict=True) for c in benchmark.COMMANDS
    }
    assert benchmark.linear_target(results, sizes)[2] is met


def test_kustomize_rows_are_named_in_the_size_table() -> None:
    rows = benchmark.size_table({(2, KUSTOMIZE): Measurement(1.0, 50.0, 0.75)}, regions=1)
    assert rows[-1] == "| 2 | 1 | 1 | `kubectl kustomize` (every folder) | 1.00 | 0.75 | 50 | 500.0 |"
