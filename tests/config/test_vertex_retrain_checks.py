"""A monitor on Vertex AI retrains pipelines on Vertex AI; pipelines published to Kubeflow Pipelines in
the cluster it cannot reach (E407, with where and the alternative)."""

from __future__ import annotations

import pathlib
import sys

import pytest
from helpers import diagnostics

sys.path.append(str(pathlib.Path(__file__).resolve().parents[1] / "compiler"))
from vertex_retrain_cases import ON_VERTEX, RETRAINING

PIPELINES_ON_GKE = "placement: {endpoints: vertex, monitors: vertex, pipelines: gke}\n"
HINT = (
    "place the pipelines on Vertex AI too (placement.pipelines: vertex), or place monitors and endpoints "
    "on GKE (placement: {monitors: gke, endpoints: gke}, per environment under overrides)"
)


def _message(monitor: str) -> str:
    return (
        f"E407: monitor '{monitor}' runs on Vertex AI, whose alerts start runs through the Vertex AI API, "
        "but this environment's pipelines are published to Kubeflow Pipelines in the cluster, which "
        "Google Cloud's managed services do not reach"
    )


def _errors(tmp_path: pathlib.Path, text: str) -> list[tuple[str, str, str | None]]:
    found = []
    for message, hint in diagnostics(tmp_path, text):
        if " error " in message:
            where, what = message.split(": error ", 1)
            found.append((where, what, hint))
    return found


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_monitors_on_vertex_ai_retrain_pipelines_on_vertex_ai(tmp_path: pathlib.Path) -> None:
    assert _errors(tmp_path, RETRAINING) == []


@pytest.mark.parametrize(
    ("monitor", "needle"),
    [("shift", "actions: {notify: [team], retrain: train"), ("slow", "- monitor: slow")],
)
def test_pipelines_on_gke_are_refused_where_the_run_is_asked_for(
    tmp_path: pathlib.Path, monitor: str, needle: str
) -> None:
    text = RETRAINING.replace(ON_VERTEX, PIPELINES_ON_GKE)
    found = {(where.split(":")[0], what, hint) for where, what, hint in _errors(tmp_path, text)}
    assert (str(_line(text, needle)), _message(monitor), HINT) in found
    assert {what for _, what, _ in found} == {_message("shift"), _message("slow")}


def test_an_slo_monitor_on_gke_retrains_pipelines_on_vertex_ai(tmp_path: pathlib.Path) -> None:
    """Its alerts reach the cluster's retrain receiver, which creates PipelineJobs on Vertex AI."""
    text = RETRAINING.replace(ON_VERTEX, "placement: {endpoints: gke, monitors: gke, pipelines: vertex}\n")
    assert _errors(tmp_path, text) == []
