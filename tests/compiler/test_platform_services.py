"""What ``mlopsctl platform`` names of the Google-managed services a target uses beyond its resources."""

from __future__ import annotations

import pathlib

import pytest
from helpers import OWNED_STAGED_DATA, write
from tracking_cases import TRACKED

from mlopsctl.config.target import Target

DEV = Target("dev", "us-central1")
PIPELINE = TRACKED


def _services(tmp_path: pathlib.Path, text: str) -> dict[str, tuple[str, ...]]:
    from mlopsctl.api import compile_graphs, platform, validate
    from mlopsctl.config.source import ConfigSource

    validation = validate(ConfigSource(write(tmp_path, text), "mlops.yaml", None))
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    uses = platform(validation, compile_graphs(validation))[DEV]
    return {u.name: u.needed_by for u in uses if u.install == "managed service of Google Cloud"}


@pytest.mark.parametrize("placement", ["gke", "vertex"])
def test_experiments_are_named_for_the_steps_that_log_runs_and_the_store(
    tmp_path: pathlib.Path, placement: str
) -> None:
    text = OWNED_STAGED_DATA + PIPELINE + f"placement: {{pipelines: {placement}}}\n"
    tracked = _services(tmp_path, text + "tracking: {experiments: true}\n")
    assert tracked["Vertex AI Experiments"] == ("pipelines.train.steps.check", "tracking.experiments")
    assert list(tracked)[: 2 if placement == "vertex" else 1][-1] == "Vertex AI Experiments"
    assert "Vertex AI Experiments" not in _services(tmp_path, text)
