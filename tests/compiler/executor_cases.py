"""A TFX-style pipeline and helpers that read the executors of its compiled spec."""

from __future__ import annotations

import pathlib
import re
from typing import Any

from conftest import ROOT
from helpers import OWNED_STAGED_DATA, compile_text

from mlopsctl.api import validate
from mlopsctl.compiler import build_graph
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource

DEV = Target("dev", "us-central1")
DEV_ONLY = OWNED_STAGED_DATA.replace(
    "  prod:\n    gcpProject: acme-demo-prod\n    regions: [us-central1, europe-west4]\n", ""
)
"""One target is enough here: what differs between targets is tested with the names."""
VERSION = "kubernetes:pipelines.kubeflow.org/v2beta1:PipelineVersion"
NODE_POOL = "cloud.google.com/gke-nodepool"
TFX = """\
accelerators:
  gpu: {type: gpu, accelerator: nvidia-l4, count: 1}
  cpu: {type: cpu, autoscaling: {minNodes: 1}}
models:
  clf:
    framework: sklearn
    versions:
      v1: {artifactUri: "gs://acme-models/registry/clf/v1"}
      v2: {artifactUri: "gs://acme-models/registry/clf/v2/"}
pipelines:
  train:
    parameters: {epochs: 3, rate: 0.5, tag: nightly, full: false}
    steps:
      ingest:
        kind: ingest
        source: {bigquery: {dataset: features, table: tx}}
        label: is_fraud
        outputs: {examples: dataset}
      stats:
        kind: statistics
        inputs: {examples: ingest.examples}
        outputs: {statistics: artifact}
      infer:
        kind: schema
        inputs: {statistics: stats.statistics}
        outputs: {schema: artifact}
      check:
        kind: validate
        inputs: {s: infer.schema, t: stats.statistics}
        outputs: {found: artifact, n: integer, ok: boolean}
      prep:
        kind: transform
        inputs: {schema: infer.schema, examples: ingest.examples}
        outputs: {graph: artifact, out: dataset}
        transforms: {amount: {type: log}, kind: {type: fill, value: unknown}}
        cache: false
      search:
        kind: tune
        image: trainer:1
        command: [python, trial.py]
        args: [--quiet]
        inputs: {data: prep.out, tag: params.tag}
        outputs: {best: artifact}
        resources: {nodePool: gpu, accelerators: 1}
        tuning:
          searchSpace: {lr: {type: double, min: 0.001, max: 0.1}}
          objective: {metric: auc_pr, target: 0.9}
      fit:
        kind: train
        image: trainer:1
        command: [python, train.py]
        inputs: {data: prep.out, hp: search.best, epochs: params.epochs}
        outputs: {model: model}
        distributed: {framework: pytorch, workers: 2}
        resources: {nodePool: gpu, accelerators: 1}
      report:
        image: report:1
        command: [python, report.py]
        args: [--verbose]
        inputs: {model: fit.model, rate: params.rate, literal: 7}
        outputs: {summary: string}
      evaluate:
        kind: evaluate
        inputs: {examples: prep.out, model: fit.model}
        outputs: {metrics: metrics, auc_pr: float, blessed: boolean, recall: float}
        thresholds: {auc_pr: {min: 0.8}}
      push:
        kind: push
        model: clf
        inputs: {model: fit.model}
        outputs: {uri: string}
        when: {output: evaluate.blessed, value: true}
"""


def _versions(graph: Graph) -> list[Resource]:
    return [r for r in graph if r.type == VERSION]


def _spec(graph: Graph, pipeline: str = "train") -> dict[str, Any]:
    [version] = [r for r in graph if r.type == VERSION and r.inputs["spec"]["pipelineName"] == pipeline]
    return dict(version.inputs["spec"])


def _executor(spec: dict[str, Any], step: str) -> dict[str, Any]:
    return dict(spec["pipelineSpec"]["deploymentSpec"]["executors"][f"exec-{step}"]["container"])


def _placement(spec: dict[str, Any], step: str) -> dict[str, Any]:
    platform = spec["platformSpec"]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    return dict(platform.get(f"exec-{step}", {}))


def _tfx(tmp_path: pathlib.Path, text: str = TFX) -> dict[str, Any]:
    return _spec(compile_text(tmp_path, DEV_ONLY + text)[DEV])


def _stage_names() -> set[str]:
    """The stages docs/stages.md documents: the first column of its table of stages."""
    text = (ROOT / "docs" / "stages.md").read_text(encoding="utf-8")
    table = text.split("## Stages", 1)[1].split("\n\n", 2)[1]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([a-z-]+)`", row.split("|")[1])}


def _first_target(path: pathlib.Path) -> Graph:
    validation = validate(ConfigSource(path, str(path), None))
    assert validation.document is not None
    target, compiled = next(iter(validation.targets.items()))
    return build_graph(compiled.config, target, validation.document.base_dir)
