"""What the schedule tests share: pipelines to schedule, and the CronJobs and runs they compile to."""

from __future__ import annotations

import json
import pathlib
from typing import Any

from conftest import ROOT
from helpers import WITH_DATA, write

from mlopsctl.api import compile_graphs, validate
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource

DEV = Target("dev", "us-central1")
PROD_US = Target("prod", "us-central1")
PROD_EU = Target("prod", "europe-west1")
CRONJOB = "kubernetes:batch/v1:CronJob"
VERSION = "kubernetes:pipelines.kubeflow.org/v2beta1:PipelineVersion"
KFP_API = "ml-pipeline.kubeflow.svc.cluster.local:8888"
OWNED = "project:\n  name: demo\n  owner: ml-team@acme.example\n"
"""The project of a config that publishes pipelines (the owner of its Kubeflow Profile)."""
STAGE = OWNED + "  stageImage: stages:1\n"
PIPELINE = """\
pipelines:
  train:
    parameters: {epochs: 10, region: us, fast: false}
    steps:
      fit: {image: "trainer:1", command: [python, fit.py], args: [--fit]}
    schedule:
      cron: "0 3 * * *"
      concurrencyPolicy: Replace
      parameters: {epochs: 20, fast: true}
"""


def _triggered(*triggers: str) -> str:
    """PIPELINE with ``triggers`` (one flow mapping each)."""
    lines = "".join(f"      - {t}\n" for t in triggers)
    return PIPELINE.replace("    schedule:\n", f"    triggers:\n{lines}    schedule:\n")


def _config(*sections: str, base: str = WITH_DATA, stage: bool = True) -> str:
    text = base + "".join(sections)
    return text.replace("project:\n  name: demo\n", STAGE if stage else OWNED)


def _validation(tmp_path: pathlib.Path, text: str) -> Any:
    return validate(ConfigSource(write(tmp_path, text), "mlops.yaml", None))


def _graphs(tmp_path: pathlib.Path, text: str) -> dict[Target, Graph]:
    validation = _validation(tmp_path, text)
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    return compile_graphs(validation)


def _example(name: str) -> dict[Target, Graph]:
    path = ROOT / "examples" / "projects" / name / "mlops.yaml"
    return compile_graphs(validate(ConfigSource(path, str(path), None)))


def _cronjobs(graph: Graph) -> dict[str, Resource]:
    """The CronJobs that start pipeline runs (monitors have CronJobs of their own)."""
    return {
        r.name: r
        for r in graph
        if r.type == CRONJOB and r.inputs["metadata"]["labels"]["app.kubernetes.io/component"] != "monitoring"
    }


def _pod(cronjob: Resource) -> dict[str, Any]:
    return dict(cronjob.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"])


def _run_config(cronjob: Resource) -> dict[str, Any]:
    [container] = _pod(cronjob)["containers"]
    assert container["command"] == ["mlopsctl-stage", "start-run"]
    [flag, config] = container["args"]
    assert flag == "--config"
    return dict(json.loads(config))


def _version(graph: Graph, pipeline: str) -> Resource:
    [version] = [r for r in graph if r.type == VERSION and r.inputs["spec"]["pipelineName"] == pipeline]
    return version


def _schedule(cronjob: Resource) -> tuple[str, str, str]:
    spec = cronjob.inputs["spec"]
    return spec["schedule"], spec["timeZone"], spec["concurrencyPolicy"]


BATCH = """\
accelerators:
  cpu: {type: cpu}
models:
  scorer:
    framework: sklearn
    versions:
      v1: {artifactUri: "gs://models/scorer/v1"}
endpoints:
  api: {variants: {main: {model: scorer, version: v1}}}
batchJobs:
  nightly:
    model: scorer
    version: v1
    input: {gcs: raw/incoming/}
    output: {bigquery: {dataset: features, table: scores}}
    nodePool: cpu
"""
