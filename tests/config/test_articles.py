"""The indefinite article before a kind named at run time, and the diagnostics that use it."""

from __future__ import annotations

import pathlib

import pytest
from helpers import MINIMAL, OWNED_STAGED, diagnostics

from mlopsctl.config.wording import with_article


@pytest.mark.parametrize(
    ("word", "phrase"),
    [
        # read as a word: the first letter's sound
        ("integer", "an integer"),
        ("INTEGER", "an INTEGER"),
        ("error-rate", "an error-rate"),
        ("email", "an email"),
        ("onnx", "an onnx"),
        ("ab", "an ab"),
        ("float", "a float"),
        ("STRING", "a STRING"),
        ("REPEATED STRING", "a REPEATED STRING"),
        ("sklearn", "a sklearn"),
        ("hyperband", "a hyperband"),
        # vowels that sound "y" or "w", and a silent h
        ("one-hot", "a one-hot"),
        ("unit", "a unit"),
        ("user", "a user"),
        ("us-east1", "a us-east1"),
        ("eu-west", "a eu-west"),
        ("hourly", "an hourly"),
        ("honest", "an honest"),
        # read letter by letter: the first letter's name
        ("xgboost", "an xgboost"),
        ("mlflow", "an mlflow"),
        ("HTTP", "an HTTP"),
        ("SLO", "an SLO"),
        ("INT64", "an INT64"),
        ("n1", "an n1"),
        ("e2", "an e2"),
        ("g2", "a g2"),
        ("v5e", "a v5e"),
        ("TPU", "a TPU"),
        ("URL", "a URL"),
        # read as a number
        ("8x8", "an 8x8"),
        ("8x16x16", "an 8x16x16"),
        ("80", "an 80"),
        ("11", "an 11"),
        ("18", "an 18"),
        ("18000", "an 18000"),
        ("110", "a 110"),
        ("1100", "a 1100"),
        ("16x16", "a 16x16"),
        ("2x2x1", "a 2x2x1"),
        ("1", "a 1"),
        # nothing to read
        ("", "a "),
        ("--flag", "a --flag"),
    ],
)
def test_article(word: str, phrase: str) -> None:
    assert with_article(word) == phrase


MODEL = (
    "models:\n  clf:\n    framework: {framework}\n"
    '    versions:\n      v1: {{artifactUri: "gs://models-bucket/clf/v1"}}\n'
)
ENDPOINT = "endpoints:\n  api:\n    variants:\n      main: {model: clf, version: v1}\n"
BIGQUERY = """\
data:
  datasets:
    features:
      tables:
        tx:
          schema:
            - {name: n, type: INTEGER}
            - {name: amount, type: FLOAT64}
          partitioning: {field: n}
          clustering: [amount]
"""
TUNE = """\
pipelines:
  p:
    steps:
      search:
        kind: tune
        image: t:1
        command: [t]
        outputs: {best: artifact}
        tuning:
          searchSpace:
            lr: {type: int, values: [1, 2]}
            depth: {type: int, min: 1, max: 3, values: [1]}
            kind: {type: categorical}
            grid: {type: discrete, values: [1, 2], min: 1}
          objective: {metric: auc_pr}
"""
SLICE = """\
accelerators:
  slice: {type: tpu, version: v5e, topology: 8x8}
pipelines:
  p:
    steps:
      fit:
        kind: train
        image: trainer:1
        command: [python, train.py]
        outputs: {model: model}
        distributed: {framework: pytorch, workers: 2}
        resources: {nodePool: slice, accelerators: 4}
"""
POOLS = """\
accelerators:
  wrong: {type: tpu, version: v5e, topology: 8x8, machineType: ct5lp-hightpu-8t}
  spread: {type: tpu, version: v5e, topology: 8x8, zones: [us-central1-a, us-central1-b]}
"""
UNLISTED_REGION = MINIMAL.replace("europe-west4]", "asia-northeast3]") + (
    "accelerators:\n  slice: {type: tpu, version: v5e, topology: 8x8}\n"
)
SEARCH_SPACE = "error E205: invalid pipelines.p.steps.search.tuning.searchSpace"

SITES: dict[str, tuple[str, tuple[str, str | None]]] = {
    "serving: an onnx model": (
        MINIMAL + MODEL.format(framework="onnx") + ENDPOINT.replace("api:\n", "api:\n    runtime: sklearn\n"),
        (
            "19:14: error E204: runtime 'sklearn' of endpoint 'api' cannot serve model 'clf': "
            "it is an onnx model",
            "use runtime onnx or triton, or leave 'runtime' out to default to one",
        ),
    ),
    "rollout: an ab rollout": (
        MINIMAL
        + MODEL.format(framework="sklearn")
        + ENDPOINT
        + "    rollout: {strategy: ab, weights: {main: 50, next: 50}}\n",
        (
            "21:14: error E303: endpoint 'api' has a single variant, but an ab rollout splits traffic "
            "between two variants",
            "declare a second variant under variants, or remove the rollout",
        ),
    ),
    "monitoring: an error-rate objective": (
        MINIMAL
        + MODEL.format(framework="sklearn")
        + ENDPOINT
        + "monitors:\n  errors: {type: error-rate, endpoint: api, objective: 150}\n",
        (
            "22:56: error E205: invalid monitors.errors: an error-rate objective is a percentage (0-100), "
            "got 150.0",
            None,
        ),
    ),
    "monitoring: a pagerduty channel": (
        MINIMAL + "alertChannels:\n  pager: {type: pagerduty}\n",
        (
            "13:10: error E205: invalid alertChannels.pager: a pagerduty channel needs 'secret' "
            "(a Secret Manager reference)",
            None,
        ),
    ),
    "bigquery: an INTEGER column": (
        MINIMAL + BIGQUERY,
        (
            "20:33: error E204: table 'tx' of dataset 'features' is partitioned on 'n', an INTEGER column; "
            "BigQuery partitions on a TIMESTAMP, DATE or DATETIME column",
            "partition on a column of type DATE, DATETIME, TIMESTAMP",
        ),
    ),
    "bigquery: a FLOAT64 column": (
        MINIMAL + BIGQUERY,
        (
            "21:24: error E204: table 'tx' of dataset 'features' is clustered on 'amount', a FLOAT64 "
            "column, which BigQuery cannot cluster on",
            "cluster on one of: n",
        ),
    ),
    "tuning: an int parameter without bounds": (
        OWNED_STAGED + TUNE,
        (f"24:17: {SEARCH_SPACE}.lr: an int parameter needs 'min' and 'max'", None),
    ),
    "tuning: an int parameter with values": (
        OWNED_STAGED + TUNE,
        (f"25:37: {SEARCH_SPACE}.depth: an int parameter takes 'min' and 'max', not 'values'", None),
    ),
    "tuning: a categorical parameter": (
        OWNED_STAGED + TUNE,
        (f"26:19: {SEARCH_SPACE}.kind: a categorical parameter needs a non-empty 'values' list", None),
    ),
    "tuning: a discrete parameter with bounds": (
        OWNED_STAGED + TUNE,
        (
            f"27:44: {SEARCH_SPACE}.grid: a discrete parameter takes 'values', not min, max, step or scale",
            None,
        ),
    ),
    "accelerators: an 8x8 slice of another machine type": (
        MINIMAL + POOLS,
        (
            "13:64: error E402: machine type 'ct5lp-hightpu-8t' cannot form an 8x8 TPU v5e slice",
            "machine types for this slice: ct5lp-hightpu-4t",
        ),
    ),
    "accelerators: an 8x8 slice in two zones": (
        MINIMAL + POOLS,
        (
            "14:59: error E403: an 8x8 TPU v5e slice on ct5lp-hightpu-4t spans 16 hosts, which must be in "
            "one zone; node pool 'spread' lists 2",
            "list one zone (without zones, the first zone of the region that offers it is used)",
        ),
    ),
    "accelerators: an 8x8 slice in a region out of the catalog": (
        UNLISTED_REGION,
        (
            "13:10: error E403: an 8x8 TPU v5e slice must be in one zone, and region 'asia-northeast3' is "
            "not in the accelerator catalog of 2026-11-21 to choose it (node pool 'slice') "
            "(in prod/asia-northeast3)",
            "list the zone of asia-northeast3 that offers TPU v5e under zones",
        ),
    ),
    "slices: an 8x8 slice of 16 hosts": (
        OWNED_STAGED + SLICE,
        (
            "24:52: error E403: train step 'fit' of pipeline 'p' runs 2 workers on node pool 'slice', "
            "an 8x8 TPU v5e slice of 16 hosts (ct5lp-hightpu-4t, 4 chips each)",
            "set workers to 16: one pod per host of the slice",
        ),
    ),
}


@pytest.mark.parametrize(("text", "expected"), SITES.values(), ids=SITES.keys())
def test_diagnostic_reads_its_article(
    tmp_path: pathlib.Path, text: str, expected: tuple[str, str | None]
) -> None:
    assert expected in diagnostics(tmp_path, text)
