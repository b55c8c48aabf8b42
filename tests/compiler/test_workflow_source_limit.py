"""A retraining workflow holds its pipelines' specs inline, and Cloud Workflows takes at most 128 KB of
source: one over it is E408 at the monitor, found in the compiled graph before anything is applied."""

from __future__ import annotations

import pathlib

import pytest
from helpers import CLF_API, OWNED_STAGED_DATA, run, write
from vertex_retrain_cases import MONITORS, ON_VERTEX

from mlopsctl.api import compile_graphs, validate
from mlopsctl.compiler import LimitError
from mlopsctl.compiler.vertex_retrain import SOURCE_LIMIT, WORKFLOW
from mlopsctl.config.diagnostics import CODES, Diagnostic
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target

DEV = Target("dev", "us-central1")
NOTE = "x" * 2000
"""An argument that makes each step's part of the spec about 2 KB."""


def _pipeline(name: str, steps: int, trigger: str | None = None) -> str:
    lines = [f"  {name}:", "    parameters: {lr: 0.1}"]
    lines += [f"    triggers: [{{monitor: {trigger}}}]"] if trigger else []
    lines += ["    steps:"]
    for i in range(steps):
        lines += [f"      step-{i}:", "        image: trainer:1"]
        lines += [f"        command: [python, train.py, {NOTE}]"]
    return "\n".join(lines) + "\n"


def _config(tmp_path: pathlib.Path, pipelines: str) -> pathlib.Path:
    return write(tmp_path, OWNED_STAGED_DATA + CLF_API + MONITORS + "pipelines:\n" + pipelines + ON_VERTEX)


def _diagnostics(tmp_path: pathlib.Path, pipelines: str) -> list[Diagnostic]:
    validation = validate(ConfigSource(_config(tmp_path, pipelines), "mlops.yaml", None))
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    try:
        graph = compile_graphs(validation)[DEV]
    except LimitError as exc:
        return exc.diagnostics
    assert graph.of_type(WORKFLOW)
    return []


def _line_of(tmp_path: pathlib.Path, text: str) -> int:
    lines = (tmp_path / "mlops.yaml").read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


@pytest.mark.parametrize(
    "pipelines",
    [_pipeline("train", 1), _pipeline("train", 20) + _pipeline("other", 20, trigger="slow")],
    ids=["one-step", "two-workflows-each-within"],
)
def test_a_source_within_the_limit_is_no_error(tmp_path: pathlib.Path, pipelines: str) -> None:
    assert _diagnostics(tmp_path, pipelines) == []


def test_an_oversize_source_is_an_error_at_the_monitor_naming_each_spec(tmp_path: pathlib.Path) -> None:
    [found] = _diagnostics(tmp_path, _pipeline("train", 70))
    assert (found.code, found.is_error) == ("E408", True)
    assert found.position is not None
    assert (found.position.line, found.position.column) == (_line_of(tmp_path, "retrain: train"), 5)
    assert found.address == f"{DEV}/{WORKFLOW}/monitor-shift-retrain"
    assert "monitor 'shift'" in found.message and f"over the {SOURCE_LIMIT:,} (128 KB)" in found.message
    assert "'train' (" in found.message
    assert found.hint is not None and "retrain fewer pipelines from this monitor" in found.hint


def test_the_pipelines_a_monitor_retrains_add_up(tmp_path: pathlib.Path) -> None:
    """Two pipelines each small enough alone: the SLO monitor their triggers name starts both."""
    pipelines = _pipeline("train", 1) + _pipeline("big", 40, "slow") + _pipeline("bigger", 40, "slow")
    [found] = _diagnostics(tmp_path, pipelines)
    assert "monitor 'slow'" in found.message
    assert found.message.index("'bigger' (") < found.message.index("'big' (")  # largest first
    assert found.message.count(" bytes)") == 2


def test_render_stops_with_the_located_error_and_writes_nothing(tmp_path: pathlib.Path) -> None:
    path, out = _config(tmp_path, _pipeline("train", 70)), tmp_path / "out"
    code, _, err = run("render", path, "--out", out)
    assert code == 1 and not out.exists()
    assert f"mlops.yaml:{_line_of(tmp_path, 'retrain: train')}:5: error E408: " in err
    assert "Traceback" not in err


def test_the_code_is_documented() -> None:
    assert CODES["E408"][0] == "compiled resource too large"
