"""Each way a step, a stage or a run can be declared wrong, with the exact diagnostic it gets."""

from __future__ import annotations

import pathlib

import pytest
from helpers import Diagnostics, Edits, diagnostics, edited
from stage_cases_code import CODE_CASES
from stage_cases_options import OPTION_CASES
from stage_cases_params import PARAM_CASES
from stage_cases_wiring import WIRING_CASES

from mlopsctl.api import compile_graphs, validate
from mlopsctl.config.models.root import DEFAULT_STAGE_IMAGE
from mlopsctl.config.source import ConfigSource

BASE = """\
apiVersion: mlopsctl.dev/v1alpha1
kind: MLOpsProject
project: {name: demo, owner: ml@acme.example, stageImage: stages:1}
environments:
  dev: {gcpProject: acme-demo-dev, regions: [us-central1]}
data:
  buckets: {raw: {}}
  datasets: {logs: {}, base: {tables: {ref: {}}}}
models:
  clf: {framework: sklearn, versions: {v1: {artifactUri: "gs://models/clf/v1"}}}
endpoints:
  api:
    variants: {main: {model: clf, version: v1}}
    logging: {dataset: logs}
pipelines:
  train:
    parameters: {epochs: 3, rate: 0.5}
    steps:
      ingest:
        kind: ingest
        source: {gcs: raw/in/}
        outputs: {examples: dataset}
      stats:
        kind: statistics
        inputs: {examples: ingest.examples}
        outputs: {statistics: artifact}
      infer:
        kind: schema
        inputs: {statistics: stats.statistics}
        outputs: {schema: artifact}
      fit:
        image: trainer:1
        command: [python, train.py]
        code: trainer
        inputs: {examples: ingest.examples, epochs: params.epochs}
        outputs: {model: model}
      evaluate:
        kind: evaluate
        inputs: {model: fit.model, examples: ingest.examples}
        outputs: {blessed: boolean}
        thresholds: {accuracy: {min: 0.9}}
      push:
        kind: push
        model: clf
        inputs: {model: fit.model}
        when: {output: evaluate.blessed, value: true}
    schedule: {cron: "0 3 * * *", parameters: {epochs: 5}}
batchJobs:
  score: {model: clf, version: v1, input: {gcs: raw/in/}, output: {gcs: raw/out/}}
monitors:
  shift:
    type: drift
    endpoint: api
    baseline: {dataset: base, table: ref}
    features: {x: {kind: numeric}}
    schedule: {cron: "0 5 * * *"}
    actions: {retrain: train, retrainParameters: {rate: 0.1}}
"""
"""A valid project with a built-in pipeline, a user step built from code, a batch job and a drift monitor."""

CASES: dict[str, tuple[Edits, Diagnostics]] = {**PARAM_CASES, **CODE_CASES, **WIRING_CASES, **OPTION_CASES}


def _diagnostics(tmp_path: pathlib.Path, text: str) -> Diagnostics:
    return diagnostics(tmp_path, text, ("trainer",))


def test_the_base_is_valid(tmp_path: pathlib.Path) -> None:
    assert _diagnostics(tmp_path, BASE) == []


@pytest.mark.parametrize("name", list(CASES))
def test_mistake_gets_its_diagnostic(tmp_path: pathlib.Path, name: str) -> None:
    edits, expected = CASES[name]
    assert _diagnostics(tmp_path, edited(BASE, edits)) == expected


def test_a_code_folder_linked_out_of_the_project_is_refused(tmp_path: pathlib.Path) -> None:
    project = tmp_path / "project"
    (tmp_path / "outside").mkdir()
    project.mkdir()
    (project / "escape").symlink_to(tmp_path / "outside", target_is_directory=True)
    assert _diagnostics(project, BASE.replace("code: trainer", "code: escape")) == [
        (
            "34:15: error E311: code folder 'escape' of step 'fit' of pipeline 'train' "
            "leaves the folder of mlops.yaml",
            "give a folder beside mlops.yaml, relative to it, that the image is built from",
        )
    ]


def test_the_implied_pipeline_root_bucket_name_is_checked(tmp_path: pathlib.Path) -> None:
    text = BASE.replace("name: demo,", "name: acme-fraud-detection-model,")
    text = text.replace("regions: [us-central1]", "regions: [asia-southeast1]")
    text = text.replace("dev: {gcpProject", "staging: {gcpProject")
    assert _diagnostics(tmp_path, text) == [
        (
            "3:17: error E404: bucket name "
            "'acme-fraud-detection-model-staging-asia-southeast1-pipeline-root' of the pipeline root, "
            "which pipeline runs write to, is longer than Cloud Storage allows "
            "(63 characters; 222 with dots, 63 between them)",
            "declare data.buckets.pipeline-root with a 'name' to choose another",
        )
    ]


def test_a_launcher_runs_the_release_image_by_default(tmp_path: pathlib.Path) -> None:
    text = """\
apiVersion: mlopsctl.dev/v1alpha1
kind: MLOpsProject
project: {name: demo, owner: ml@acme.example}
environments:
  dev: {gcpProject: acme-demo-dev, regions: [us-central1]}
pipelines:
  p:
    steps:
      prepare: {image: prep:1, command: [prep], outputs: {data: dataset}}
      search:
        kind: tune
        image: trainer:1
        command: [python, trial.py]
        inputs: {data: prepare.data}
        outputs: {best: artifact}
        tuning:
          searchSpace: {lr: {type: double, min: 0.1, max: 1}}
          objective: {metric: auc_pr}
"""
    assert _diagnostics(tmp_path, text) == []
    path = tmp_path / "mlops.yaml"
    [graph] = compile_graphs(validate(ConfigSource(path, str(path), None))).values()
    version = next(r for r in graph if r.type.endswith(":PipelineVersion"))
    executors = version.inputs["spec"]["pipelineSpec"]["deploymentSpec"]["executors"]
    [launcher] = [
        e["container"] for e in executors.values() if e["container"]["command"][0] == "mlopsctl-stage"
    ]
    assert launcher["image"] == DEFAULT_STAGE_IMAGE and launcher["command"][1] == "tune-job"
