"""Run starters follow the placement: pipelines on Vertex AI get no CronJob starters in the cluster
(their schedules are Vertex AI's), while batch jobs, which call an endpoint on GKE, keep theirs."""

from __future__ import annotations

import pathlib

import pytest
from helpers import CLF_API, OWNED_STAGED_DATA, compile_text

from mlopsctl.config.target import Target

CRONJOB = "kubernetes:batch/v1:CronJob"
SECTIONS = (
    OWNED_STAGED_DATA
    + CLF_API
    + """\
pipelines:
  train:
    schedule: {cron: "0 1 * * *"}
    triggers: [{newData: {bucket: raw}}]
    steps:
      fit: {kind: container, image: trainer:1, command: [python]}
batchJobs:
  score:
    {model: clf, version: v1, input: {gcs: raw/in/}, output: {gcs: raw/out/}, schedule: {cron: "0 2 * * *"}}
"""
)


@pytest.mark.parametrize(
    ("pipelines", "starters"),
    [
        ("gke", ["batch-score-schedule", "train-on-raw-", "train-schedule"]),
        ("vertex", ["batch-score-schedule"]),
    ],
)
def test_cronjobs_start_runs_of_what_kubeflow_pipelines_runs(
    tmp_path: pathlib.Path, pipelines: str, starters: list[str]
) -> None:
    graph = compile_text(tmp_path, SECTIONS + f"placement: {{pipelines: {pipelines}}}\n")[
        Target("dev", "us-central1")
    ]
    names = sorted(r.name for r in graph if r.type == CRONJOB)
    assert [n[: len(s)] for n, s in zip(names, starters, strict=True)] == starters
