"""``mlopsctl run --local -f json`` tells what the text tells: why a step failed, why a monitor failed."""

from __future__ import annotations

import pathlib

import pytest
from api_helpers import pipeline_run
from run_projects import CODE, HEAD, PIPELINES, project

from mlopsctl.run.result import FeatureResult, MonitorResult

LOOP = (
    HEAD
    + """\
pipelines:
  loop:
    steps:
      each:
        image: reg/demo:1
        code: code
        command: [python, quiet.py]
        parallelFor:
          items: [a, b]
        outputs:
          count: integer
"""
)
"""A ``parallelFor`` step whose items write nothing of the output they declare."""
QUIET = {"quiet.py": "print('wrote nothing')\n"}


@pytest.mark.parametrize(
    ("config", "code", "pipeline", "failed", "message"),
    [
        (LOOP, QUIET, "loop", "each", "output count was not written (expected at "),
        (PIPELINES, CODE, "broken", "fails", "exit code 1: bad input: no rows"),
        (PIPELINES, CODE, "nocode", "remote", "cannot start: image reg/elsewhere:1 cannot run locally"),
    ],
    ids=["output-not-written", "exit-code", "cannot-start"],
)
def test_a_failed_step_says_why_in_json_as_in_text(
    tmp_path: pathlib.Path, config: str, code: dict[str, str], pipeline: str, failed: str, message: str
) -> None:
    result = pipeline_run(project(tmp_path, config, code), pipeline, tmp_path / "out")
    steps = result.to_json()["steps"]
    assert isinstance(steps, dict)
    step = steps[failed]
    assert isinstance(step, dict) and step["status"] == "failed"
    assert isinstance(step["message"], str) and step["message"].startswith(message), step
    assert (
        dict(line.split(maxsplit=1) for line in result.text_lines())[failed] == f"failed: {step['message']}"
    )
    # "message" is there only when there is one: no step but the failed one has it.
    assert [name for name, s in steps.items() if isinstance(s, dict) and "message" in s] == [failed]


FEATURE = FeatureResult("numeric", 0.5, 0.1, breach=True)


@pytest.mark.parametrize(
    ("result", "failure"),
    [
        (
            MonitorResult("m", False, {}, [], failure="exit code 1: no table baseline"),
            "exit code 1: no table baseline",
        ),
        (MonitorResult("m", True, {"amount": FEATURE}, []), None),
    ],
)
def test_a_failed_monitor_says_why_in_json(result: MonitorResult, failure: str | None) -> None:
    found = result.to_json()
    assert found.get("failure") == failure
    assert ("failure" in found) is (failure is not None)
    assert {k: v for k, v in found.items() if k != "failure"} == {
        "monitor": "m",
        "breached": result.breached,
        "features": {name: f.to_json() for name, f in result.features.items()},
        "actions": [],
        "runs": {},
    }
