"""Mistaken container steps and parameters: edits of test_stage_checks.BASE and their exact diagnostics."""

from __future__ import annotations

from helpers import Diagnostics, Edits

PARAM_CASES: dict[str, tuple[Edits, Diagnostics]] = {
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
                    "55:14: error E205: invalid monitors.up: retrainParameters in "
                    "'actions' are passed by drift and skew monitors only: an SLO alert starts its "
                    "runs with the pipelines' own parameters"
                ),
                None,
            ),
        ],
    ),
}
