"""config.checks.kfp: a project that publishes pipelines names the owner of its Kubeflow Profile."""

from __future__ import annotations

import pathlib

import pytest
from helpers import write

from mlopsctl.api import validate
from mlopsctl.config.source import ConfigSource

PROJECT = """\
apiVersion: mlopsctl.dev/v1alpha1
kind: MLOpsProject
project:
  name: demo
  stageImage: stages:1
{owner}environments:
  dev: {{gcpProject: acme-demo-dev, regions: [us-central1]}}
  prod: {{gcpProject: acme-demo-prod, regions: [us-central1, europe-west4]}}
"""
PIPELINE = """\
pipelines:
  train:
    steps: {fit: {image: "trainer:1", command: [fit]}}
"""
BATCH = """\
data: {buckets: {raw: {}}, datasets: {out: {}}}
models:
  m: {framework: sklearn, versions: {v1: {artifactUri: "gs://models/m/v1"}}}
endpoints:
  api: {variants: {main: {model: m, version: v1}}}
batchJobs:
  nightly: {model: m, version: v1, input: {gcs: raw/in/}, output: {bigquery: {dataset: out, table: t}}}
"""
WHY = "it owns the Kubeflow profile of namespace 'demo', where the pipelines are published"
HINT = (
    "\n  hint: set project.owner to the email of the person or group who administers the namespace in "
    "Kubeflow (the owner of its Profile)"
)


def diagnostics(tmp_path: pathlib.Path, owner: str, sections: str) -> list[str]:
    text = PROJECT.format(owner=owner) + sections
    validation = validate(ConfigSource(write(tmp_path, text), "mlops.yaml", None))
    return [d.to_text() for d in validation.diagnostics]


@pytest.mark.parametrize("sections", [PIPELINE, BATCH], ids=["pipeline", "batch-job"])
def test_a_project_that_publishes_pipelines_names_an_owner(tmp_path: pathlib.Path, sections: str) -> None:
    assert diagnostics(tmp_path, "", sections) == [
        f"mlops.yaml:4:3: error E201: project.owner is missing: {WHY}{HINT}"
    ]


def test_the_owner_is_an_email(tmp_path: pathlib.Path) -> None:
    assert diagnostics(tmp_path, "  owner: vision-team\n", PIPELINE) == [
        f"mlops.yaml:6:10: error E205: project.owner 'vision-team' is not an email: {WHY}{HINT}"
    ]


@pytest.mark.parametrize(
    ("owner", "sections"),
    [("  owner: ml-team@acme.example\n", PIPELINE), ("", ""), ("  owner: the ML team\n", "")],
    ids=["email", "no-pipeline", "no-pipeline-any-owner"],
)
def test_accepted(tmp_path: pathlib.Path, owner: str, sections: str) -> None:
    assert diagnostics(tmp_path, owner, sections) == []
