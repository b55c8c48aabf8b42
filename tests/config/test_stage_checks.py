"""Each way a step, a stage or a run can be declared wrong, with the exact diagnostic it gets."""

from __future__ import annotations

import pathlib

import pytest
from helpers import Diagnostics, Edits, diagnostics, edited

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

CASES: dict[str, tuple[Edits, Diagnostics]] = {
    "no command": (
        [
            ("        command: [python, train.py]\n", ""),
        ],
        [
            (
                "32:9: error E201: container step 'fit' of pipeline 'train' has no command",
                "give the program the image runs, e.g. command: [python, train.py]",
            ),
        ],
    ),
    "no image": (
        [
            ("        image: trainer:1\n", ""),
        ],
        [
            (
                "32:9: error E201: container step 'fit' of pipeline 'train' has no image",
                "set 'image': what the step runs",
            ),
        ],
    ),
    "tune no image/command": (
        [
            (
                "      push:\n",
                (
                    "      search:\n        kind: tune\n        inputs: {examples: ingest.examples}\n"
                    "        outputs: {best: artifact}\n        tuning:\n"
                    "          searchSpace: {lr: {type: double, min: 0.1, max: 1}}\n"
                    "          objective: {metric: auc_pr}\n      push:\n"
                ),
            ),
        ],
        [
            (
                "43:9: error E201: tune step 'search' of pipeline 'train' has no command",
                "give the program each trial runs, e.g. command: [python, train.py]",
            ),
            (
                "43:9: error E201: tune step 'search' of pipeline 'train' has no image",
                "set 'image': what each trial runs",
            ),
        ],
    ),
    "reserved params": (
        [
            ("      stats:\n", "      params:\n        image: x:1\n        command: [x]\n      stats:\n"),
        ],
        [
            (
                (
                    "24:9: error E304: step name 'params' of pipeline 'train' is reserved: "
                    "'params.NAME' reads a pipeline parameter"
                ),
                "rename the step",
            ),
        ],
    ),
    "keyword param": (
        [
            ("parameters: {epochs: 3, rate: 0.5}", "parameters: {epochs: 3, rate: 0.5, from: x}"),
        ],
        [
            (
                (
                    "17:46: error E304: parameter 'from' of pipeline 'train' is a Python keyword, "
                    "which Kubeflow Pipelines cannot take as an input name"
                ),
                "rename it, e.g. 'from_'",
            ),
        ],
    ),
    "unknown param": (
        [
            ("epochs: params.epochs", "epochs: params.epoch"),
        ],
        [
            (
                (
                    "35:53: error E301: pipeline parameter 'epoch' is not declared under "
                    "pipelines.train.parameters"
                ),
                "did you mean 'epochs'?",
            ),
        ],
    ),
    "param in when": (
        [
            ("when: {output: evaluate.blessed, value: true}", "when: {output: params.rate, value: 0.5}"),
        ],
        [
            (
                "43:9: error E309: push step 'push' does not wait for an evaluate step with thresholds",
                (
                    "add an evaluate step with 'thresholds' and make the push depend on it "
                    "(dependsOn, or a 'when' on its verdict)"
                ),
            ),
            (
                (
                    "46:24: error E309: step 'push' of pipeline 'train' reads 'params.rate' in "
                    "'when', which takes a step output"
                ),
                "pass the parameter to a step as an input, and use that step's output here",
            ),
        ],
    ),
    "schedule unknown param": (
        [
            ("parameters: {epochs: 5}", "parameters: {epoch: 5}"),
        ],
        [
            (
                (
                    "47:55: error E301: the schedule of pipeline 'train' sets parameter 'epoch', "
                    "which pipeline 'train' does not declare"
                ),
                "did you mean 'epochs'?",
            ),
        ],
    ),
    "schedule wrong type": (
        [
            ("parameters: {epochs: 5}", "parameters: {epochs: '5'}"),
        ],
        [
            (
                (
                    "47:56: error E202: the schedule of pipeline 'train' sets parameter 'epochs' of"
                    " pipeline 'train' to '5', not an integer like its default"
                ),
                "give an integer, or change the default under pipelines.train.parameters",
            ),
        ],
    ),
    "batch schedule param": (
        [
            (
                "output: {gcs: raw/out/}}",
                "output: {gcs: raw/out/}, schedule: {cron: '0 1 * * *', parameters: {day: mon}}}",
            ),
        ],
        [
            (
                (
                    "49:132: error E301: the schedule of batch job 'score' sets parameter 'day', "
                    "but a batch job takes none"
                ),
                "remove it",
            ),
        ],
    ),
    "retrain unknown": (
        [
            ("retrainParameters: {rate: 0.1}", "retrainParameters: {rat: 0.1}"),
        ],
        [
            (
                (
                    "57:56: error E301: monitor 'shift' sets parameter 'rat', which pipeline "
                    "'train' does not declare"
                ),
                "did you mean 'rate'?",
            ),
        ],
    ),
    "retrain none": (
        [
            (
                "actions: {retrain: train, retrainParameters: {rate: 0.1}}",
                "actions: {retrainParameters: {rate: 0.1}}",
            ),
        ],
        [
            (
                (
                    "57:34: warning W301: retrainParameters of monitor 'shift' are declared, but it"
                    " retrains no pipeline"
                ),
                "set actions.retrain, or remove retrainParameters",
            ),
        ],
    ),
    "slo retrain params": (
        [
            (
                "monitors:\n",
                (
                    "monitors:\n  up:\n    type: availability\n    endpoint: api\n    objective: 99\n"
                    "    actions: {retrain: train, retrainParameters: {rate: 1.0}}\n"
                ),
            ),
        ],
        [
            (
                (
                    "52:5: error E205: invalid monitors.up.availability: retrainParameters in "
                    "'actions' are passed by drift and skew monitors only: an SLO alert starts its "
                    "runs with the pipelines' own parameters"
                ),
                None,
            ),
        ],
    ),
    "code missing": (
        [
            ("code: trainer", "code: trainr"),
        ],
        [
            (
                ("34:15: error E311: code folder 'trainr' of step 'fit' of pipeline 'train' does not exist"),
                "give a folder beside mlops.yaml, relative to it, that the image is built from",
            ),
        ],
    ),
    "code outside": (
        [
            ("code: trainer", "code: ../elsewhere"),
        ],
        [
            (
                (
                    "34:15: error E311: code folder '../elsewhere' of step 'fit' of pipeline "
                    "'train' leaves the folder of mlops.yaml"
                ),
                "give a folder beside mlops.yaml, relative to it, that the image is built from",
            ),
        ],
    ),
    "code absolute": (
        [
            ("code: trainer", "code: /etc"),
        ],
        [
            (
                (
                    "34:15: error E311: code folder '/etc' of step 'fit' of pipeline 'train' leaves"
                    " the folder of mlops.yaml"
                ),
                "give a folder beside mlops.yaml, relative to it, that the image is built from",
            ),
        ],
    ),
    "code file": (
        [
            ("code: trainer", "code: mlops.yaml"),
        ],
        [
            (
                (
                    "34:15: error E311: code folder 'mlops.yaml' of step 'fit' of pipeline 'train' "
                    "is not a folder"
                ),
                "give a folder beside mlops.yaml, relative to it, that the image is built from",
            ),
        ],
    ),
    "code on builtin": (
        [
            (
                "      stats:\n        kind: statistics\n",
                "      stats:\n        kind: statistics\n        code: trainer\n",
            ),
        ],
        [
            (
                (
                    "25:15: error E205: invalid pipelines.train.steps.stats: 'code' is only valid "
                    "for steps of kind container, train, tune"
                ),
                None,
            ),
        ],
    ),
    "command on builtin": (
        [
            (
                "      stats:\n        kind: statistics\n",
                "      stats:\n        kind: statistics\n        command: [x]\n",
            ),
        ],
        [
            (
                (
                    "25:18: error E205: invalid pipelines.train.steps.stats: 'command' is only "
                    "valid for steps of kind container, train, tune"
                ),
                None,
            ),
        ],
    ),
    "literal into builtin": (
        [
            (
                "inputs: {examples: ingest.examples}\n        outputs: {statistics: artifact}",
                "inputs: {examples: ingest.examples, depth: 3}\n        outputs: {statistics: artifact}",
            ),
        ],
        [
            (
                (
                    "25:52: error E309: statistics step 'stats' of pipeline 'train' has no use for "
                    "input 'depth' (a literal value)"
                ),
                "the statistics stage reads --examples (a dataset)",
            ),
        ],
    ),
    "missing output": (
        [
            ("        outputs: {statistics: artifact}\n", ""),
        ],
        [
            (
                (
                    "24:9: error E309: statistics step 'stats' of pipeline 'train' has no output "
                    "for --statistics (an artifact)"
                ),
                "declare it under outputs, e.g. {statistics: artifact}",
            ),
            (
                (
                    "28:30: error E309: step 'infer' reads 'stats.statistics', but step 'stats' has"
                    " no output 'statistics'"
                ),
                "declare 'statistics' under outputs of step 'stats'",
            ),
        ],
    ),
    "wrong type input": (
        [
            ("inputs: {statistics: stats.statistics}", "inputs: {statistics: ingest.examples}"),
        ],
        [
            (
                (
                    "28:9: error E309: schema step 'infer' of pipeline 'train' has no input for "
                    "--statistics (an artifact of a statistics step)"
                ),
                "declare it under inputs, e.g. {statistics: stats.statistics}",
            ),
            (
                (
                    "29:30: error E309: schema step 'infer' of pipeline 'train' has no use for "
                    "input 'statistics' (a dataset)"
                ),
                "the schema stage reads --statistics (an artifact of a statistics step)",
            ),
        ],
    ),
    "ambiguous": (
        [
            (
                "      push:\n",
                (
                    "      a: {image: x, command: [x], outputs: {s: artifact}}\n"
                    "      b: {image: x, command: [x], outputs: {t: artifact}}\n      check:\n"
                    "        kind: validate\n        inputs: {s: a.s, t: b.t}\n"
                    "        outputs: {anomalies: artifact}\n      push:\n"
                ),
            ),
        ],
        [
            (
                (
                    "46:21: error E309: validate step 'check' of pipeline 'train' cannot tell "
                    "whether input 's' (an artifact) is its --statistics or --schema"
                ),
                (
                    "read --statistics (an artifact of a statistics step); read --schema (an "
                    "artifact of a schema step)"
                ),
            ),
            (
                (
                    "46:29: error E309: validate step 'check' of pipeline 'train' cannot tell "
                    "whether input 't' (an artifact) is its --statistics or --schema"
                ),
                (
                    "read --statistics (an artifact of a statistics step); read --schema (an "
                    "artifact of a schema step)"
                ),
            ),
        ],
    ),
    "tune outputs": (
        [
            (
                "      push:\n",
                (
                    "      search:\n        kind: tune\n        image: t:1\n        command: [t]\n"
                    "        inputs: {examples: ingest.examples}\n"
                    "        outputs: {best: artifact, score: float}\n        tuning:\n"
                    "          searchSpace: {lr: {type: double, min: 0.1, max: 1}}\n"
                    "          objective: {metric: auc_pr}\n      push:\n"
                ),
            ),
        ],
        [
            (
                (
                    "47:42: error E309: tune step 'search' of pipeline 'train' cannot write output "
                    "'score' (a float): it writes only the best hyperparameters"
                ),
                "declare one artifact output, e.g. {best_hyperparameters: artifact}",
            ),
        ],
    ),
    "tune no output": (
        [
            (
                "      push:\n",
                (
                    "      search:\n        kind: tune\n        image: t:1\n        command: [t]\n"
                    "        tuning:\n          searchSpace: {lr: {type: double, min: 0.1, max: 1}}\n"
                    "          objective: {metric: auc_pr}\n      push:\n"
                ),
            ),
        ],
        [
            (
                (
                    "43:9: error E309: tune step 'search' of pipeline 'train' has no output for the"
                    " best hyperparameters"
                ),
                "declare it under outputs, e.g. {best_hyperparameters: artifact}",
            ),
        ],
    ),
    "distributed param out": (
        [
            (
                "      push:\n",
                (
                    "      big:\n        kind: train\n        image: t:1\n        command: [t]\n"
                    "        outputs: {model: model, loss: float}\n"
                    "        distributed: {framework: pytorch, workers: 2}\n      push:\n"
                ),
            ),
        ],
        [
            (
                (
                    "46:39: error E309: train step 'big' of pipeline 'train' cannot write parameter"
                    " output 'loss' (a float): its replicas hand back artifacts only"
                ),
                "declare 'loss' as an artifact or metrics output, or compute it in a later step",
            ),
        ],
    ),
    "parallelFor builtin": (
        [
            (
                "      stats:\n        kind: statistics\n",
                "      stats:\n        kind: statistics\n        parallelFor: {items: [1, 2]}\n",
            ),
        ],
        [
            (
                (
                    "25:22: error E309: statistics step 'stats' of pipeline 'train' cannot run in a"
                    " parallelFor loop: the statistics stage has no input for the item"
                ),
                "loop over a container step that runs the stage's work per item",
            ),
            (
                ("30:30: error E309: step 'infer' reads 'stats.statistics', an output of a parallelFor step"),
                "a parallelFor step has one output per item; wait for it with 'dependsOn'",
            ),
        ],
    ),
    "threshold name": (
        [
            ("thresholds: {accuracy:", "thresholds: {acuracy:"),
        ],
        [
            (
                (
                    "41:31: error E204: evaluate step 'evaluate' of pipeline 'train' has a "
                    "threshold on 'acuracy', which is not a metric the evaluate stage computes"
                ),
                "did you mean 'accuracy'?",
            ),
        ],
    ),
    "float output name": (
        [
            ("outputs: {blessed: boolean}", "outputs: {blessed: boolean, aucpr: float}"),
        ],
        [
            (
                (
                    "40:44: error E204: evaluate step 'evaluate' of pipeline 'train' has a float "
                    "output 'aucpr', which is not a metric the evaluate stage computes"
                ),
                "did you mean 'auc_pr'?",
            ),
        ],
    ),
    "registry": (
        [
            (
                'v1: {artifactUri: "gs://models/clf/v1"}',
                'v1: {artifactUri: "gs://models/clf/v1"}, v0: {artifactUri: "gs://old/clf/v0"}',
            ),
        ],
        [
            (
                (
                    "44:16: error E309: push step 'push' of pipeline 'train' cannot tell where "
                    "model 'clf' keeps its versions: their artifactUris share no folder"
                ),
                "keep every version of 'clf' in one folder, e.g. gs://BUCKET/models/clf/",
            ),
        ],
    ),
    "batch no endpoint": (
        [
            ("variants: {main: {model: clf, version: v1}}", "variants: {main: {model: clf, version: v0}}"),
            (
                'v1: {artifactUri: "gs://models/clf/v1"}',
                'v1: {artifactUri: "gs://models/clf/v1"}, v0: {artifactUri: "gs://models/clf/v0"}',
            ),
        ],
        [
            (
                (
                    "49:32: error E301: batch job 'score' scores with model 'clf' version 'v1', "
                    "which no endpoint serves over HTTP"
                ),
                (
                    "serve clf v1 from a variant of an endpoint with the http protocol: the "
                    "batch-predict stage sends the rows to it"
                ),
            ),
        ],
    ),
    "batch accelerators": (
        [
            ("output: {gcs: raw/out/}}", "output: {gcs: raw/out/}, accelerators: 1}"),
        ],
        [
            (
                (
                    "49:98: error E205: batch job 'score' asks for 1 accelerator, but it only sends"
                    " rows to endpoint 'api'"
                ),
                "remove 'accelerators': the endpoint's replicas hold them",
            ),
            (
                "49:98: error E402: batch job 'score' requests 1 accelerator but names no node pool",
                "set nodePool to a GPU or TPU pool under accelerators",
            ),
        ],
    ),
    "bucketize": (
        [
            (
                "      push:\n",
                (
                    "      prep:\n        kind: transform\n        inputs: {examples: ingest.examples}\n"
                    "        outputs: {out: dataset}\n        transforms: {age: {type: bucketize}}\n"
                    "      push:\n"
                ),
            ),
        ],
        [
            (
                (
                    "46:27: error E205: invalid pipelines.train.steps.prep.transforms.age: "
                    "'boundaries' are needed by, and only valid for, the bucketize transform"
                ),
                None,
            ),
        ],
    ),
    "boundaries order": (
        [
            (
                "      push:\n",
                (
                    "      prep:\n        kind: transform\n        inputs: {examples: ingest.examples}\n"
                    "        outputs: {out: dataset}\n"
                    "        transforms: {age: {type: bucketize, boundaries: [10, 5]}}\n      push:\n"
                ),
            ),
        ],
        [
            (
                (
                    "46:57: error E205: invalid pipelines.train.steps.prep.transforms.age: "
                    "'boundaries' must increase: 10, 5"
                ),
                None,
            ),
        ],
    ),
    "fill value": (
        [
            (
                "      push:\n",
                (
                    "      prep:\n        kind: transform\n        inputs: {examples: ingest.examples}\n"
                    "        outputs: {out: dataset}\n        transforms: {age: {type: fill}}\n"
                    "      push:\n"
                ),
            ),
        ],
        [
            (
                (
                    "46:27: error E205: invalid pipelines.train.steps.prep.transforms.age: 'value' "
                    "is needed by, and only valid for, the fill transform"
                ),
                None,
            ),
        ],
    ),
    "split": (
        [
            (
                "        source: {gcs: raw/in/}\n",
                "        source: {gcs: raw/in/}\n        split: {eval: 1.5}\n",
            ),
        ],
        [
            (
                (
                    "22:23: error E205: invalid pipelines.train.steps.ingest.split.eval: input "
                    "should be less than 1"
                ),
                None,
            ),
        ],
    ),
    "format bq": (
        [
            (
                "        source: {gcs: raw/in/}\n",
                "        source: {bigquery: {dataset: logs, table: t}, format: csv}\n",
            ),
        ],
        [
            (
                (
                    "21:63: error E205: invalid pipelines.train.steps.ingest.source: 'format' "
                    "applies to 'gcs' sources only"
                ),
                None,
            ),
        ],
    ),
    "bq neither": (
        [
            ("        source: {gcs: raw/in/}\n", "        source: {bigquery: {dataset: logs}}\n"),
        ],
        [
            (
                (
                    "21:28: error E205: invalid pipelines.train.steps.ingest.source.bigquery: give "
                    "exactly one of 'table' or 'query'"
                ),
                None,
            ),
        ],
    ),
    "caching": (
        [
            ("        kind: statistics\n", "        kind: statistics\n        caching: false\n"),
        ],
        [
            (
                "25:9: error E203: unknown key 'caching' in pipelines.train.steps.stats",
                "did you mean 'cache'?",
            ),
        ],
    ),
    "label on stats": (
        [
            ("        kind: statistics\n", "        kind: statistics\n        label: y\n"),
        ],
        [
            (
                (
                    "25:16: error E205: invalid pipelines.train.steps.stats: 'label' is only valid "
                    "for steps of kind evaluate, ingest"
                ),
                None,
            ),
        ],
    ),
}


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
