"""Pipelines on Vertex AI that the tests compile, and helpers that find their objects."""

from __future__ import annotations

import json
import pathlib
import re
from typing import Any

from helpers import write

from mlopsctl.api import validate
from mlopsctl.compiler import STEPS
from mlopsctl.compiler.context import BuildContext
from mlopsctl.compiler.vertex_pipelines import BUCKET_OBJECT
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph

DEV = Target("dev", "us-central1")
PROD = Target("prod", "us-central1")
VERTEX = "placement:\n  pipelines: vertex\n"
PIPELINE = """\
pipelines:
  train:
    parameters: {lr: 0.1, epochs: 3}
    steps:
      ingest:
        kind: ingest
        source: {bigquery: {dataset: features, table: rows}}
        outputs: {examples: dataset}
      fit:
        image: trainer:1
        command: [python, train.py]
        inputs: {data: ingest.examples, lr: params.lr}
        outputs: {model: model}
        resources: {cpu: "2", memory: 8Gi}
"""
SCHEDULE = '    schedule: {cron: "0 3 * * *", timeZone: Europe/Paris, parameters: {lr: 0.5}}\n'
TRIGGERS = """\
    triggers:
      - newData: {bucket: raw, prefix: incoming/}
      - newData: {dataset: features, table: events}
      - newData: {dataset: features}
"""
ROOT_BUCKET = "demo-dev-us-central1-pipeline-root"
ACCOUNT = "pl-train-dev-usc1@acme-demo-dev.iam.gserviceaccount.com"
LABELS = {
    "managed-by": "mlopsctl",
    "mlops-env": "dev",
    "mlops-pipeline": "train",
    "mlops-project": "demo",
    "mlops-region": "us-central1",
}
KUBEFLOW = ("kubeflow.org", "CronJob")
STAGE_KEYS = {
    "backend",
    "project",
    "location",
    "pipelineSpecUri",
    "pipelineRoot",
    "displayName",
    "serviceAccount",
    "labels",
    "parameters",
    "whenNewData",
}
"""The keys of ``start-run`` with ``backend: vertex``, as docs/stages.md lists them."""
RUN_JOB_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
SCHEDULER_JOB_NAME = re.compile(r"^[A-Za-z0-9_-]{1,500}$")


def _contexts(tmp_path: pathlib.Path, text: str) -> dict[Target, BuildContext]:
    """Every target built by every step but ``schedules``: its CronJobs are Kubeflow's, and what it
    emits for pipelines on Vertex AI is its own concern."""
    validation = validate(ConfigSource(write(tmp_path, text), "mlops.yaml", None))
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    contexts = {}
    for target, checked in validation.targets.items():
        ctx = contexts[target] = BuildContext(checked.config, target, tmp_path)
        for name, step in STEPS:
            if name != "schedules":
                step(ctx)
        ctx.graph.validate_references()
    return contexts


def _graphs(tmp_path: pathlib.Path, text: str) -> dict[Target, Graph]:
    return {target: ctx.graph for target, ctx in _contexts(tmp_path, text).items()}


def _one(graph: Graph, type_: str, name: str) -> Any:
    return graph.resources[f"{graph.target}/{type_}/{name}"]


def _address(type_: str, name: str, target: Target = DEV) -> str:
    return f"{target}/{type_}/{name}"


def _spec(graph: Graph) -> Any:
    return json.loads(_one(graph, BUCKET_OBJECT, "pipeline-train").inputs["content"])
