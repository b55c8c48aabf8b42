"""Mistaken code folders and built-in steps: edits of test_stage_checks.BASE and their exact diagnostics."""

from __future__ import annotations

from helpers import Diagnostics, Edits

CODE_CASES: dict[str, tuple[Edits, Diagnostics]] = {
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
                    "for steps of kind container, train, tune, and this step has kind 'statistics'"
                ),
                "delete 'code', or set kind to one of container, train, tune",
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
                    "valid for steps of kind container, train, tune, and this step has kind 'statistics'"
                ),
                "delete 'command', or set kind to one of container, train, tune",
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
}
