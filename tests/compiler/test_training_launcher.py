"""What a training launcher is given: names that fit, its config, and the rights to manage jobs."""

from __future__ import annotations

import pathlib

import pytest
from helpers import write
from training_cases import _config, _graph, _inline, launcher, stage_config

LONG_TRAIN = (
    "train-distributed-xla:\n        kind: train\n        image: t:1\n        command: [python, t.py]\n"
    "        distributed: {framework: pytorch, workers: 2}"
)
LONG_TUNE = (
    "tune-hyperparameters:\n        kind: tune\n        image: t:1\n        command: [python, t.py]\n"
    "        outputs: {best: artifact}\n"
    "        tuning:\n          algorithm: bayesianoptimization\n          objective: {metric: auc}\n"
    "          searchSpace: {lr: {type: double, min: 0.1, max: 0.5}}"
)


@pytest.mark.parametrize(
    ("step", "limit"), [(LONG_TRAIN, 52 - 9), (LONG_TUNE, min(40, 62 - len("bayesianoptimization")) - 9)]
)
def test_long_names_leave_room_for_the_run_suffix(tmp_path: pathlib.Path, step: str, limit: int) -> None:
    pipeline = "fraud-detection-every-night"
    name = step.split(":")[0]
    path = write(tmp_path, _config(f"pipelines:\n  {pipeline}:\n    steps:\n      {step}\n"))
    [compiled] = [v for k, v in launcher(path, pipeline, name).items() if k in ("job", "experiment")]
    assert len(f"{pipeline}-{name}") > limit
    assert len(compiled["metadata"]["name"]) == limit
    assert compiled["metadata"]["name"].startswith(f"{pipeline}-{name}"[: limit - 7])


BOTH = """\
pipelines:
  p:
    steps:
      tune:
        kind: tune
        image: trainer:1
        command: [python, tune.py]
        outputs: {best: artifact}
        tuning:
          objective: {metric: auc}
          maxTrials: 4
          searchSpace: {lr: {type: double, min: 0.1, max: 0.5}}
      train:
        kind: train
        image: trainer:1
        command: [python, train.py]
        dependsOn: [tune]
        distributed: {framework: pytorch, workers: 2}
      train-tpu:
        kind: train
        image: trainer:1
        command: [python, train.py]
        dependsOn: [tune]
        distributed: {framework: tensorflow, workers: 2}
        resources: {nodePool: tpu, accelerators: 4}
  plain:
    steps:
      only: {image: x:1, command: [run]}
"""


def test_the_published_pipeline_carries_the_launcher_config(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, _config(BOTH))
    graph = _graph(path)
    for step in ("tune", "train", "train-tpu"):
        assert stage_config(graph, "p", step) == launcher(path, "p", step)


def test_pipelines_that_tune_or_train_may_manage_those_jobs(tmp_path: pathlib.Path) -> None:
    graph = _inline(tmp_path, BOTH)
    roles = {r.name: r.inputs for r in graph if r.type == "kubernetes:rbac.authorization.k8s.io/v1:Role"}
    manage = ["create", "delete", "get", "watch"]  # launch.py: create, watch, get, delete; no list
    assert roles["p-training"]["rules"] == [
        {"apiGroups": ["jobset.x-k8s.io"], "resources": ["jobsets"], "verbs": manage},
        {"apiGroups": ["kubeflow.org"], "resources": ["experiments", "pytorchjobs"], "verbs": manage},
        {"apiGroups": ["kubeflow.org"], "resources": ["trials"], "verbs": ["list"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
    ]
    assert "plain-training" not in roles
    binding = graph.resources[
        "dev/us-central1/kubernetes:rbac.authorization.k8s.io/v1:RoleBinding/p-training"
    ]
    assert binding.inputs["subjects"] == [
        {"kind": "ServiceAccount", "name": "pipeline-p-dev-usc1", "namespace": "demo"}
    ]
    assert "dev/us-central1/kubernetes:core/v1:ServiceAccount/pipeline-p-dev-usc1" in binding.depends_on


PLAIN = "pipelines:\n  plain:\n    steps:\n      only: {image: x:1, command: [run]}\n"


@pytest.mark.parametrize(("pipeline", "labelled"), [(BOTH, True), (PLAIN, False)])
def test_the_namespace_collects_trial_metrics_when_a_pipeline_tunes(
    tmp_path: pathlib.Path, pipeline: str, labelled: bool
) -> None:
    graph = _inline(tmp_path, pipeline)
    labels = graph.resources["dev/us-central1/kubernetes:core/v1:Namespace/demo"].inputs["metadata"]["labels"]
    assert ("katib.kubeflow.org/metrics-collector-injection" in labels) is labelled
