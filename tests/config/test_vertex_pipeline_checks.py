"""Pipelines placed on Vertex AI: what kfp compiles for Kubernetes only is refused where it is written,
with the alternative; what Vertex AI Pipelines runs is not. Monitors on GKE retrain them from drift and
skew jobs, and from SLO alerts through the cluster's retrain receiver."""

from __future__ import annotations

import pathlib

import pytest
from helpers import WITH_DATA, diagnostics, owned

VERTEX = "placement: {pipelines: vertex}\n"
ON_GKE = "or place them on GKE (placement.pipelines: gke, per environment under overrides)"
PIPELINE = """\
pipelines:
  train:
    steps:
      fit:
        image: trainer:1
        command: [python]
"""
CASES = {
    "secrets": (
        "        secrets: {API_TOKEN: api-token}\n",
        "api-token",
        "E407: Vertex AI Pipelines has no Kubernetes Secrets: API_TOKEN would not reach the step's container",
        "read the secret in the step's code with the Secret Manager client, as the pipeline's service "
        "account (name a security.serviceAccounts entry with roles [roles/secretmanager.secretAccessor] "
        f"as the pipeline's serviceAccount), {ON_GKE}",
    ),
    "timeout": (
        "        timeout: 2h\n",
        "2h",
        "E407: Vertex AI Pipelines has no per-step time limit: timeout is a Kubernetes pod deadline",
        f"remove timeout and make the step's own code stop in time, {ON_GKE}",
    ),
}


def _errors(tmp_path: pathlib.Path, text: str) -> list[tuple[str, str, str | None]]:
    """(``LINE:COLUMN``, ``CODE: message``, hint) of every error."""
    found = diagnostics(tmp_path, text)
    return [(m.split(": error ")[0], m.split(": error ", 1)[1], h) for m, h in found if " error " in m]


def _at(text: str, line: str, value: str) -> str:
    """``LINE:COLUMN`` of the mapping value ``value`` on ``line`` of ``text``."""
    number = text.splitlines().index(line.rstrip("\n"))
    return f"{number + 1}:{line.index(f': {value}') + 3}"


@pytest.mark.parametrize("case", sorted(CASES))
def test_kubernetes_only_step_settings_are_refused_where_written(case: str, tmp_path: pathlib.Path) -> None:
    setting, value, message, hint = CASES[case]
    text = owned(WITH_DATA) + PIPELINE + setting
    assert _errors(tmp_path, text + VERTEX) == [(_at(text, setting, value), message, hint)]
    assert _errors(tmp_path, text) == []  # on GKE


def test_what_vertex_ai_pipelines_run_is_not_refused(tmp_path: pathlib.Path) -> None:
    """Retries, caching, literal variables and resources are in the PipelineSpec Vertex AI runs."""
    step = (
        "        retries: 3\n        cache: false\n        env: {MODE: fast}\n"
        '        resources: {cpu: "2", memory: 8Gi, accelerators: 1, acceleratorType: NVIDIA_TESLA_T4}\n'
    )
    assert _errors(tmp_path, owned(WITH_DATA) + PIPELINE + step + VERTEX) == []


MONITORED = """\
models:
  clf:
    framework: sklearn
    versions:
      v1: {artifactUri: "gs://models-bucket/clf/v1"}
endpoints:
  api:
    variants:
      main: {model: clf, version: v1}
    logging: {dataset: features}
monitors:
  shift:
"""
DRIFT = """\
    type: drift
    endpoint: api
    baseline: {dataset: features, table: train}
    features: {amount: {kind: numeric}}
    schedule: {cron: "0 3 * * *"}
"""
SLO = """\
    type: availability
    endpoint: api
    objective: 99.5
"""
RETRAINS = {
    "actions": ("    actions: {retrain: train}\n", ""),
    "trigger": ("", "    triggers: [{monitor: shift}]\n"),
}


@pytest.mark.parametrize("how", sorted(RETRAINS))
def test_a_drift_monitor_on_gke_retrains_a_pipeline_on_vertex_ai(how: str, tmp_path: pathlib.Path) -> None:
    action, trigger = RETRAINS[how]
    text = (
        owned(WITH_DATA)
        + MONITORED
        + DRIFT
        + action
        + PIPELINE.replace("    steps:\n", trigger + "    steps:\n")
    )
    assert _errors(tmp_path, text + VERTEX) == []


@pytest.mark.parametrize("how", sorted(RETRAINS))
def test_an_slo_monitor_on_gke_retrains_a_pipeline_on_vertex_ai(how: str, tmp_path: pathlib.Path) -> None:
    action, trigger = RETRAINS[how]
    text = (
        owned(WITH_DATA)
        + MONITORED
        + SLO
        + action
        + PIPELINE.replace("    steps:\n", trigger + "    steps:\n")
    )
    assert _errors(tmp_path, text + VERTEX) == []
    assert _errors(tmp_path, text) == []


def test_pipelines_on_vertex_ai_need_no_kubeflow_profile_owner(tmp_path: pathlib.Path) -> None:
    """project.owner owns the Kubeflow Profile where pipelines are published; Vertex AI has none."""
    codes = [m.split(" ")[2].rstrip(":") for m, _ in diagnostics(tmp_path, WITH_DATA + PIPELINE)]
    assert "E201" in codes
    assert diagnostics(tmp_path, WITH_DATA + PIPELINE + VERTEX) == []


@pytest.mark.parametrize("how", sorted(RETRAINS))
@pytest.mark.parametrize("kind", ["drift", "slo"])
def test_a_monitor_on_vertex_ai_retrains_a_pipeline_on_gke(
    how: str, kind: str, tmp_path: pathlib.Path
) -> None:
    """Its alerts reach the cluster's retrain receiver through a Pub/Sub subscription it pulls."""
    action, trigger = RETRAINS[how]
    text = (
        owned(WITH_DATA)
        + MONITORED
        + (DRIFT if kind == "drift" else SLO)
        + action
        + PIPELINE.replace("    steps:\n", trigger + "    steps:\n")
    )
    assert _errors(tmp_path, text + "placement: {endpoints: vertex, monitors: vertex}\n") == []
