"""Mistaken options of built-in stages: edits of test_stage_checks.BASE and their exact diagnostics."""

from __future__ import annotations

from helpers import Diagnostics, Edits

OPTION_CASES: dict[str, tuple[Edits, Diagnostics]] = {
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
    "batch on a gpu pool": (
        [
            ("output: {gcs: raw/out/}}", "output: {gcs: raw/out/}, nodePool: l4}"),
            (
                "models:\n",
                "accelerators:\n"
                "  l4: {type: gpu, accelerator: nvidia-l4, count: 1, machineType: g2-standard-8}\n"
                "models:\n",
            ),
        ],
        [
            (
                (
                    "51:94: warning W404: batch job 'score' runs on GPU node pool 'l4', but its "
                    "batch-predict step uses no GPU: it only sends rows to the endpoint, and would keep a "
                    "GPU node up"
                ),
                "remove nodePool (the step runs on any CPU node), or name a CPU pool",
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
                "use a value below 1.0",
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
                    "for steps of kind evaluate, ingest, and this step has kind 'statistics'"
                ),
                "delete 'label', or set kind to one of evaluate, ingest",
            ),
        ],
    ),
}
