"""Whole-object checks of the models report every problem at once, each at the field it names,
with its fix."""

from __future__ import annotations

import pathlib

from helpers import MINIMAL, write

from mlopsctl.api import validate
from mlopsctl.config.source import ConfigSource


def test_every_problem_of_a_step_comes_at_once_with_its_fix(tmp_path: pathlib.Path) -> None:
    """A step without its kind gets one error per section of another kind, each at its line and
    saying which kind to set, and its other mistakes in the same run."""
    step = (
        "pipelines:\n  p:\n    steps:\n      publish:\n        model: m\n"
        "        thresholds: {accuracy: {min: 0.9}}\n        label: y\n        timeout: 0s\n"
    )
    found = validate(ConfigSource(write(tmp_path, MINIMAL + step), "mlops.yaml", None)).diagnostics
    first = MINIMAL.count("\n") + 5
    kinds = "and this step has no kind, so it is a 'container' step"
    at = "invalid pipelines.p.steps.publish:"
    assert [(d.position.line if d.position else 0, d.message, d.hint) for d in found if d.code == "E205"] == [
        (first, f"{at} 'model' is only valid for steps of kind push, {kinds}", "set kind: push"),
        (
            first + 1,
            f"{at} 'thresholds' is only valid for steps of kind evaluate, {kinds}",
            "set kind: evaluate",
        ),
        (
            first + 2,
            f"{at} 'label' is only valid for steps of kind evaluate, ingest, {kinds}",
            "set kind to one of evaluate, ingest",
        ),
        (
            first + 3,
            f"{at} a timeout of 0s is no time limit a step can keep",
            "give a longer one, or none for no limit",
        ),
    ]


def test_an_endpoint_gets_its_fix(tmp_path: pathlib.Path) -> None:
    text = MINIMAL + "endpoints:\n  e: {rollout: null}\n"
    found = validate(ConfigSource(write(tmp_path, text), "mlops.yaml", None)).diagnostics
    [problem] = [d for d in found if d.code == "E205"]
    assert problem.message == "invalid endpoints.e: an endpoint needs 'variants' or a 'graph'"
    assert (
        problem.hint == "add variants: {NAME: {model: MODEL, version: VERSION}}, the model versions it serves"
    )
