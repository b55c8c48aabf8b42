"""MLP001 on Vertex AI: each deployed model of a production endpoint's Deployment keeps enough
replicas, reported at its variant's minReplicas with the Deployment as resource, as on GKE."""

from __future__ import annotations

import json
import pathlib

import pytest
from api_helpers import sarif
from helpers import write
from policy_helpers import PASSING, edited, findings, summary, where

VERTEX = "placement: {endpoints: vertex, monitors: vertex}\n"
ON_VERTEX = PASSING + VERTEX
DEPLOYMENT = "prod/us-central1/mlopsctl:vertex/deployment:Deployment/score"
MAIN = "      main: {model: m, version: v1, minReplicas: 2}\n"


def _mlp001(tmp_path: pathlib.Path, text: str) -> list[tuple[str, str, str]]:
    return [f for f in summary(findings(tmp_path, text)) if f[0] == "MLP001"]


def test_a_passing_vertex_config_passes(tmp_path: pathlib.Path) -> None:
    assert summary(findings(tmp_path, ON_VERTEX)) == []


@pytest.mark.parametrize(
    ("variants", "variant"),
    [
        (MAIN.replace("minReplicas: 2", "minReplicas: 1"), "main"),
        (
            MAIN + "      next: {model: m, version: v2, minReplicas: 1}\n"
            "    rollout: {strategy: canary, baseline: main, candidate: next, steps: [5, 50, 100]}\n",
            "next",
        ),
    ],
    ids=["the only variant", "a canary's candidate"],
)
def test_too_few_replicas_of_a_deployed_model_are_found_at_its_variant(
    tmp_path: pathlib.Path, variants: str, variant: str
) -> None:
    text = edited(ON_VERTEX, [(MAIN, variants)])
    [finding] = [d for d in findings(tmp_path, text) if d.code == "MLP001"]
    assert (finding.severity.value, str(finding.position)) == ("error", where(text, "minReplicas: 1"))
    assert finding.address == DEPLOYMENT
    assert (
        finding.message
        == f"endpoint 'score' ({variant}) keeps 1 replica in prod; production needs at least 2"
    )
    assert finding.hint == "set minReplicas: 2 (e.g. in environments.prod.overrides)"
    assert finding.path == ("endpoints", "score", "variants", variant, "minReplicas")


def test_only_production_and_its_configured_minimum(tmp_path: pathlib.Path) -> None:
    prod_override = (
        "    regions: [us-central1]\n    overrides:\n      endpoints:\n        score:\n"
        "          variants:\n            main: {minReplicas: 2}\nsecurity:"
    )
    one_in_dev = edited(
        ON_VERTEX,
        [("minReplicas: 2}", "minReplicas: 1}"), ("    regions: [us-central1]\nsecurity:", prod_override)],
    )
    assert _mlp001(tmp_path / "a", one_in_dev) == []
    raised = ON_VERTEX + "policies: {minReplicas: 3}\n"
    assert _mlp001(tmp_path / "b", raised) == [("MLP001", "error", where(raised, "minReplicas: 2"))]


def test_sarif_locates_the_vertex_finding(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = ON_VERTEX.replace("minReplicas: 2}", "minReplicas: 1}")
    monkeypatch.chdir(tmp_path)
    write(tmp_path, text)
    [result] = json.loads(sarif(pathlib.Path("mlops.yaml")))["runs"][0]["results"]
    assert (result["ruleId"], result["level"]) == ("MLP001", "error")
    [location] = result["locations"]
    region = location["physicalLocation"]["region"]
    assert f"mlops.yaml:{region['startLine']}:{region['startColumn']}" == where(text, "minReplicas: 1")
    assert location["logicalLocations"] == [{"fullyQualifiedName": DEPLOYMENT, "kind": "resource"}]
