"""What endpoints and monitors placed on Vertex AI cannot do is refused at validate, with where and
the alternative."""

from __future__ import annotations

import pathlib

import pytest
from helpers import CLF_API, MINIMAL, WITH_DATA, diagnostics, owned

VERTEX = "placement: {endpoints: vertex, monitors: vertex}\n"
ON_GKE = "or place them on GKE (placement.endpoints: gke, per environment under overrides)"
MONITORS_ON_GKE = (
    "or place monitors and endpoints on GKE (placement: {monitors: gke, endpoints: gke}, "
    "per environment under overrides)"
)
TWO = CLF_API.replace(
    "      main: {model: clf, version: v1}\n",
    "      main: {model: clf, version: v1}\n      next: {model: clf, version: v1}\n",
)
LOGGED = CLF_API + "    logging: {dataset: features}\n"
TABLED = WITH_DATA.replace("    features: {}\n", "    features:\n      tables:\n        api_requests: {}\n")
"""WITH_DATA declaring the table that endpoint 'api' logs to."""
DRIFT = """\
monitors:
  shift:
    type: drift
    endpoint: api
    baseline: {dataset: features, table: train}
    features: {amount: {kind: numeric}}
    schedule: {cron: "0 3 * * *"}
"""
SECOND_ENDPOINT = """\
  other:
    variants:
      main: {model: clf, version: v2}
"""

CASES = {
    "a batch job": (
        CLF_API
        + "batchJobs:\n  score: {model: clf, version: v1, input: {gcs: raw/in/}, output: {gcs: raw/out/}}\n",
        "E407: batch job 'score' sends its rows to an endpoint in the cluster, "
        "but this environment's endpoints are on Vertex AI",
        f"score the rows in a pipeline step that loads the model, or remove the batch job here, {ON_GKE}",
    ),
    "header matching": (
        TWO
        + "    rollout: {strategy: ab, weights: {main: 50, next: 50}, match: [{header: x-beta, value: '1', "
        "variant: next}]}\n",
        "E407: Vertex AI endpoints split traffic by weight only, not by header, cookie or client",
        f"remove match and sticky, {ON_GKE}",
    ),
    "no replica": (
        CLF_API.replace(
            "{model: clf, version: v1}",
            "{model: clf, version: v1, minReplicas: 0, autoscaling: {metric: cpu}}",
        ),
        "E407: a model deployed on Vertex AI keeps at least one replica",
        f"set minReplicas to 1 or more, {ON_GKE}",
    ),
    "a log table of the user's": (
        LOGGED,
        "E407: endpoint 'api' logs to table 'api_requests', which Vertex AI creates itself: "
        "it must not exist",
        f"remove the table, or log to another one (endpoints.api.logging.table), {ON_GKE}",
    ),
    "two default versions of a model": (
        CLF_API.replace(
            '      v1: {artifactUri: "gs://models-bucket/clf/v1"}\n',
            '      v1: {artifactUri: "gs://models-bucket/clf/v1"}\n'
            '      v2: {artifactUri: "gs://models-bucket/clf/v2"}\n',
        )
        + SECOND_ENDPOINT,
        "E407: the Model Registry gives one version of model 'clf' the alias 'default': "
        "endpoint 'api' serves v1 as it, 'other' v2",
        f"serve the same version in both rollout roles, or serve one from a model of its own, {ON_GKE}",
    ),
    "a window of minutes": (
        LOGGED + DRIFT + "    window: 90m\n",
        "E407: Vertex AI Model Monitoring reads whole hours, days or weeks of logs, not 90m",
        f"use a window such as 1h, 24h or 7d, {MONITORS_ON_GKE}",
    ),
    "an empty window": (  # it would be sent as "0w"
        LOGGED + DRIFT + "    window: 0s\n",
        "E407: Vertex AI Model Monitoring reads whole hours, days or weeks of logs, not 0s",
        f"use a window such as 1h, 24h or 7d, {MONITORS_ON_GKE}",
    ),
    "a sampled monitor": (
        LOGGED + DRIFT + "    samplingRate: 0.5\n",
        "E407: Vertex AI Model Monitoring reads every request its endpoint logged",
        f"remove samplingRate and lower endpoints.api.logging.samplingRate, {MONITORS_ON_GKE}",
    ),
}


def _errors(tmp_path: pathlib.Path, text: str) -> list[tuple[str, str | None]]:
    found = diagnostics(tmp_path, text)
    return [(m.split(": error ", 1)[1], h) for m, h in found if " error " in m]


@pytest.mark.parametrize("case", sorted(CASES))
def test_what_vertex_ai_cannot_do_is_refused_with_the_alternative(case: str, tmp_path: pathlib.Path) -> None:
    sections, message, hint = CASES[case]
    data = TABLED if "user's" in case else WITH_DATA
    assert _errors(tmp_path, owned(data) + sections + VERTEX) == [(message, hint)]
    assert _errors(tmp_path, owned(data) + sections) == []  # on GKE (placement's default)


@pytest.mark.parametrize(("endpoints", "monitors"), [("vertex", "gke"), ("gke", "vertex")])
def test_monitors_run_where_the_endpoints_they_watch_run(
    tmp_path: pathlib.Path, endpoints: str, monitors: str
) -> None:
    placement = f"placement: {{endpoints: {endpoints}, monitors: {monitors}}}\n"
    where = {"gke": "GKE", "vertex": "Vertex AI"}
    found = _errors(tmp_path, WITH_DATA + LOGGED + DRIFT + placement)
    assert found == [
        (
            f"E407: monitor 'shift' runs on {where[monitors]}, "
            f"but the endpoint it watches is on {where[endpoints]}",
            f"place monitors where the endpoints are (placement.monitors: {endpoints}, per environment under "
            "overrides)",
        )
    ]


TRIGGERED = (
    "pipelines:\n  train:\n    triggers: [{monitor: shift}]\n    steps:\n"
    "      fit: {kind: container, image: trainer:1, command: [python]}\n"
)


def test_a_monitor_on_vertex_ai_may_start_runs_of_pipelines_on_gke(tmp_path: pathlib.Path) -> None:
    """Its alerts reach the cluster's retrain receiver through a Pub/Sub subscription
    (tests/compiler/test_pubsub_retrain.py)."""
    found = _errors(tmp_path, owned(WITH_DATA) + LOGGED + DRIFT + TRIGGERED + VERTEX)
    assert found == []


def test_a_whole_project_on_vertex_ai_validates(tmp_path: pathlib.Path) -> None:
    text = MINIMAL + TWO + "    rollout: {strategy: canary, baseline: main, candidate: next}\n" + VERTEX
    assert _errors(tmp_path, text) == []


@pytest.mark.parametrize(("setting", "value"), [("runtime", "sklearn"), ("protocolVersion", "v2")])
def test_a_serving_setting_vertex_ai_does_not_use_is_a_located_warning(
    tmp_path: pathlib.Path, setting: str, value: str
) -> None:
    text = CLF_API.replace("  api:\n", f"  api:\n    {setting}: {value}\n", 1)
    found = diagnostics(tmp_path, MINIMAL + text + VERTEX)
    warnings = [(m, h) for m, h in found if " warning W403" in m]
    assert len(warnings) == 1 and _errors(tmp_path, MINIMAL + text + VERTEX) == []
    message, hint = warnings[0]
    line = (MINIMAL + text).splitlines().index(f"    {setting}: {value}") + 1
    assert message.split(":")[:2] == [str(line), str(len(f"    {setting}: ") + 1)]
    assert f"{setting} '{value}' is not used on Vertex AI" in message
    assert hint is not None and f"remove {setting} for this placement" in hint
    assert not [m for m, _ in diagnostics(tmp_path, MINIMAL + text) if "W403" in m]  # used on GKE
