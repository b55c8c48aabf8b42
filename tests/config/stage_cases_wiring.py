"""Mis-wired step inputs and outputs: edits of test_stage_checks.BASE and their exact diagnostics."""

from __future__ import annotations

from helpers import Diagnostics, Edits

WIRING_CASES: dict[str, tuple[Edits, Diagnostics]] = {
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
}
