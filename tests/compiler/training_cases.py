"""Projects and helpers the training tests share: compile a pipeline, read its launcher config."""

from __future__ import annotations

import json
import pathlib
from typing import Any

from helpers import MINIMAL, write

from mlopsctl.api import compile_graphs, validate
from mlopsctl.compiler import training
from mlopsctl.compiler.context import BuildContext
from mlopsctl.compiler.kfp_dag import StepSettings
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEV = Target("dev", "us-central1")
SENSORS = ROOT / "examples/projects/sensor-anomaly/mlops.yaml"
FRAUD = ROOT / "examples/projects/fraud-tpu/mlops.yaml"
RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}
RESTRICTED_POD = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}


STAGES = """\
project:
  name: demo
  owner: ml-team@acme.example
  stageImage: stages:1
"""
POOLS = """\
accelerators:
  gpu: {type: gpu, accelerator: nvidia-l4, count: 1, spot: true}
  tpu: {type: tpu, version: v5e, topology: 2x4, machineType: ct5lp-hightpu-4t}
  tpu-host: {type: tpu, version: v5e, topology: 2x4, machineType: ct5lp-hightpu-8t}
  cpu: {type: cpu}
"""


def _config(pipeline: str) -> str:
    return MINIMAL.replace("project:\n  name: demo\n", STAGES) + POOLS + pipeline


def _graph(path: pathlib.Path, target: Target = DEV) -> Graph:
    validation = validate(ConfigSource(path, str(path), None))
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    return compile_graphs(validation)[target]


def _inline(tmp_path: pathlib.Path, pipeline: str) -> Graph:
    return _graph(write(tmp_path, _config(pipeline)))


def launcher(path: pathlib.Path, pipeline: str, step: str, target: Target = DEV) -> dict[str, Any]:
    """The ``--config`` of a step's launcher, as :func:`training.launcher_config` builds it."""
    validation = validate(ConfigSource(path, str(path), None))
    assert validation.ok and validation.document is not None, [d.to_text() for d in validation.diagnostics]
    config = validation.targets[target].config
    declared = config.pipelines[pipeline]
    found = declared.steps[step]
    pool = found.resources.node_pool or declared.node_pool
    image = found.image or config.project.stage_image
    assert image is not None
    settings = StepSettings(image, None, pool, config.accelerators.get(pool) if pool else None)
    at = training.StepAt(pipeline, step, found, settings)
    built = training.launcher_config(BuildContext(config, target, validation.document.base_dir), at)
    loaded: dict[str, Any] = json.loads(json.dumps(built))
    return loaded


def _launcher(tmp_path: pathlib.Path, pipeline: str, step: str = "train") -> dict[str, Any]:
    return launcher(write(tmp_path, _config(pipeline)), "p", step)


def stage_config(graph: Graph, pipeline: str, step: str) -> dict[str, Any]:
    """The ``--config`` a step's stage receives, from the published PipelineVersion."""
    [version] = [
        r
        for r in graph
        if r.type.endswith(":PipelineVersion")
        and r.inputs["metadata"]["labels"]["pipelines.kubeflow.org/pipeline"] == pipeline
    ]
    executors = version.inputs["spec"]["pipelineSpec"]["deploymentSpec"]["executors"]
    args = executors[f"exec-{step}"]["container"]["args"]
    loaded: dict[str, Any] = json.loads(args[args.index("--config") + 1])
    return loaded


def _container(pod: dict[str, Any]) -> dict[str, Any]:
    [found] = pod["spec"]["containers"]
    return dict(found)


TUNE = """\
pipelines:
  p:
    steps:
      tune:
        kind: tune
        image: trainer:1
        command: [python, tune.py]
        args: [--data=gs://b/x]
        outputs: {{best_hyperparameters: artifact}}
        resources: {{cpu: "2", memory: 4Gi}}
        tuning:
          algorithm: {algorithm}
          maxTrials: {max_trials}
          parallelTrials: {parallel}
          maxFailedTrials: 1
          objective: {{metric: loss, goal: minimize}}
{extra}          searchSpace:
{space}
"""
SPACES = {
    "mixed": "            lr: {type: double, min: 0.001, max: 0.1, scale: log}\n"
    "            depth: {type: int, min: 2, max: 8}\n"
    "            opt: {type: categorical, values: [adam, sgd]}\n",
    "grid": "            lr: {type: double, min: 0.1, max: 0.3, step: 0.1}\n"
    "            depth: {type: int, min: 2, max: 8, step: 2}\n"
    "            batch: {type: discrete, values: [32, 64]}\n",
    "hyperband": "            lr: {type: double, min: 0.001, max: 0.1}\n"
    "            epochs: {type: int, min: 1, max: 27}\n",
}
