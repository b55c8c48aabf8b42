"""Columns that a drift monitor, an ingest step's label and a transform step name must be columns of
the table they read, when the config declares that table with a schema (found by a mutation sweep:
each misspelling validated cleanly and failed only when the stage ran)."""

from __future__ import annotations

import pathlib

import pytest
from helpers import DEV_ONLY, STAGE_IMAGE, Diagnostics, Edits, diagnostics, edited, owned

BASE = (
    owned(DEV_ONLY.replace("  name: demo\n", STAGE_IMAGE, 1))
    + """\
data:
  datasets:
    features:
      tables:
        tx:
          schema:
          - {name: amount, type: FLOAT64}
          - {name: merchant, type: STRING}
          - {name: is_fraud, type: BOOL}
        loose: {}
    serving: {}
pipelines:
  train:
    steps:
      ingest:
        kind: ingest
        source: {bigquery: {dataset: features, table: tx}}
        label: is_fraud
        outputs: {examples: dataset}
      transform:
        kind: transform
        inputs: {examples: ingest.examples}
        outputs: {transformed: dataset}
        transforms:
          amount: {type: standardize}
          merchant: {type: onehot}
models:
  clf:
    framework: sklearn
    versions:
      v1: {artifactUri: "gs://acme-models/clf/v1"}
endpoints:
  api:
    variants:
      main: {model: clf, version: v1}
    logging: {dataset: serving}
monitors:
  drift:
    type: drift
    endpoint: api
    baseline: {dataset: features, table: tx}
    features:
      amount: {kind: numeric}
      merchant: {kind: categorical}
    schedule: {cron: "0 * * * *"}
"""
)

BATCH = (
    "batchJobs:\n  score: {{model: clf, version: v1, input: {{bigquery: {{dataset: features, table: tx}}}}, "
    "output: {{bigquery: {{dataset: features, table: {table}}}}}}}\nmonitors:\n"
)

CASES: dict[str, tuple[Edits, Diagnostics]] = {
    "valid": ([], []),
    "monitor feature not in its baseline table": (
        [("      amount: {kind: numeric}\n", "      amuont: {kind: numeric}\n")],
        [
            (
                "53:15: error E301: feature 'amuont' of monitor 'drift' is not a column of its baseline, "
                "table 'tx' of dataset 'features'",
                "did you mean 'amount'?",
            )
        ],
    ),
    "ingest label not in its table": (
        [("label: is_fraud", "label: fraud")],
        [
            (
                "28:16: error E301: the label 'fraud' of ingest step 'ingest' is not a column of table 'tx' "
                "of dataset 'features', which the step reads",
                "did you mean 'is_fraud'?",
            )
        ],
    ),
    "transformed feature not in the ingested table": (
        [("          merchant: {type: onehot}\n", "          shop: {type: onehot}\n")],
        [
            (
                "36:17: error E301: transform step 'transform' names feature 'shop', which is not a column "
                "of table 'tx' of dataset 'features' that step 'ingest' reads",
                "its columns: amount, merchant, is_fraud",
            )
        ],
    ),
    "several at once": (
        [
            ("label: is_fraud", "label: fraud"),
            ("      amount: {kind: numeric}\n", "      amuont: {kind: numeric}\n"),
        ],
        [
            (
                "28:16: error E301: the label 'fraud' of ingest step 'ingest' is not a column of table 'tx' "
                "of dataset 'features', which the step reads",
                "did you mean 'is_fraud'?",
            ),
            (
                "53:15: error E301: feature 'amuont' of monitor 'drift' is not a column of its baseline, "
                "table 'tx' of dataset 'features'",
                "did you mean 'amount'?",
            ),
        ],
    ),
    "a table declared without a schema is not checked": (
        [
            ("table: tx}\n    features:", "table: loose}\n    features:"),
            ("amount: {kind: numeric}", "x: {kind: numeric}"),
        ],
        [],
    ),
    "an undeclared table is not checked": (
        [
            ("table: tx}\n    features:", "table: weekly}\n    features:"),
            ("amount: {kind: numeric}", "x: {kind: numeric}"),
        ],
        [],
    ),
    "batch output table without a prediction column": (
        [("monitors:\n", BATCH.format(table="tx"))],
        [
            (
                "48:106: error E301: batch job 'score' writes its predictions to column 'prediction', which "
                "table 'tx' of dataset 'features' does not declare",
                "add a column 'prediction' (with the type of the model's predictions) to the table",
            )
        ],
    ),
    "batch output table with a prediction column": (
        [
            (
                "        loose: {}\n",
                "        loose: {}\n        scores: {schema: [{name: prediction, type: BOOL}]}\n",
            ),
            ("monitors:\n", BATCH.format(table="scores")),
        ],
        [],
    ),
    "batch output table with a further prediction a v1 endpoint does not answer": (
        [
            (
                "        loose: {}\n",
                "        loose: {}\n        scores: {schema: [{name: prediction, type: BOOL}, "
                "{name: prediction_margin, type: FLOAT64}]}\n",
            ),
            ("monitors:\n", BATCH.format(table="scores")),
        ],
        [
            (
                "49:106: error E301: column 'prediction_margin' of table 'scores' of dataset 'features', "
                "which batch job 'score' writes, takes a further prediction output, but endpoint 'api' "
                "answers with the v1 protocol, which has one",
                "remove the column, or serve the model with protocolVersion: v2",
            )
        ],
    ),
    "batch output table with a REQUIRED column neither a prediction nor an input column": (
        [
            (
                "        loose: {}\n",
                "        loose: {}\n        scores: {schema: [{name: Prediction, type: BOOL}, "
                "{name: scored_at, type: TIMESTAMP, mode: REQUIRED}, {name: AMOUNT, type: FLOAT64, "
                "mode: REQUIRED}, "
                "{name: note, type: STRING}]}\n",
            ),
            ("monitors:\n", BATCH.format(table="scores")),
        ],
        [
            (
                "49:106: error E301: column 'scored_at' of table 'scores' of dataset 'features', which "
                "batch job 'score' writes, is REQUIRED but is neither a prediction nor a column of its "
                "input, table 'tx' of dataset 'features': BigQuery would refuse every row",
                "make the column NULLABLE (left null), remove it, or add it to the input table",
            )
        ],
    ),
    "column names compare without case, as BigQuery does": (
        [
            ("label: is_fraud", "label: IS_FRAUD"),
            ("      amount: {kind: numeric}\n", "      Amount: {kind: numeric}\n"),
        ],
        [],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_named_columns_are_columns_of_the_table_read(tmp_path: pathlib.Path, name: str) -> None:
    edits, expected = CASES[name]
    assert diagnostics(tmp_path, edited(BASE, edits)) == expected
