"""A monitor on Vertex AI retrains pipelines on either placement: on Vertex AI through its managed chain,
on Kubeflow Pipelines in the cluster through the retrain receiver, which pulls the monitor's Pub/Sub
subscription. Neither is refused."""

from __future__ import annotations

import pathlib
import sys

import pytest
from helpers import diagnostics

sys.path.append(str(pathlib.Path(__file__).resolve().parents[1] / "compiler"))
from vertex_retrain_cases import ON_VERTEX, RETRAINING

PIPELINES_ON_GKE = "placement: {endpoints: vertex, monitors: vertex, pipelines: gke}\n"


def _errors(tmp_path: pathlib.Path, text: str) -> list[tuple[str, str, str | None]]:
    found = []
    for message, hint in diagnostics(tmp_path, text):
        if " error " in message:
            where, what = message.split(": error ", 1)
            found.append((where, what, hint))
    return found


@pytest.mark.parametrize(
    "placement",
    [ON_VERTEX, PIPELINES_ON_GKE, "placement: {endpoints: gke, monitors: gke, pipelines: vertex}\n"],
    ids=["all-on-vertex", "pipelines-on-gke", "monitors-on-gke"],
)
def test_retraining_monitors_are_accepted_wherever_the_pipelines_are(
    tmp_path: pathlib.Path, placement: str
) -> None:
    assert _errors(tmp_path, RETRAINING.replace(ON_VERTEX, placement)) == []


def test_monitors_still_run_where_their_endpoints_are(tmp_path: pathlib.Path) -> None:
    """The one refusal left for a retraining monitor: it must watch an endpoint where it runs."""
    text = RETRAINING.replace(ON_VERTEX, "placement: {endpoints: gke, monitors: vertex, pipelines: gke}\n")
    found = {what.split(":")[0] for _, what, _ in _errors(tmp_path, text)}
    assert found == {"E407"}
    assert all("but the endpoint it watches is on GKE" in what for _, what, _ in _errors(tmp_path, text))
