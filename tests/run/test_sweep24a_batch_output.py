"""A local run of a batch job writing to a BigQuery table declared with a schema: the compiled
``batch-predict`` step is given the table's columns and modes and writes only those (BigQuery
refuses a row with a field its table lacks), under the table's spelling of each name (BigQuery
compares them without case), leaving out a NULLABLE column nothing fills; to a table declared
without one, every input column and the prediction."""

from __future__ import annotations

import json
import pathlib
import random

import pytest
from api_helpers import pipeline_run, statuses
from run_projects import HEAD, SCORER, jsonl, project

PROJECT = (
    HEAD
    + """\
data:
  buckets:
    models: {}
  datasets:
    features:
      tables:
        scores:
          schema:
            - {name: id, type: INT64}
            - {name: prediction, type: INT64}
        cased:
          schema:
            - {name: ID, type: INT64, mode: REQUIRED}
            - {name: scored_at, type: TIMESTAMP}
            - {name: Prediction, type: INT64, mode: REQUIRED}
        everything: {}
"""
    + SCORER
    + """\
batchJobs:
  declared:
    model: scorer
    version: v1
    input: {bigquery: {dataset: features, table: unscored}}
    output: {bigquery: {dataset: features, table: scores}}
  undeclared:
    model: scorer
    version: v1
    input: {bigquery: {dataset: features, table: unscored}}
    output: {bigquery: {dataset: features, table: everything}}
  cased:
    model: scorer
    version: v1
    input: {bigquery: {dataset: features, table: unscored}}
    output: {bigquery: {dataset: features, table: cased}}
"""
)
TABLES = "acme-demo-dev.features_dev_us_central1"


@pytest.fixture
def scorer(tmp_path: pathlib.Path) -> pathlib.Path:
    import joblib  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression

    config = project(tmp_path, PROJECT, {})
    rng = random.Random(4)
    rows = [{"id": i, "x": rng.uniform(-1, 1), "noise": rng.uniform(-1, 1)} for i in range(6)]
    jsonl(tmp_path / "sample-data" / "datasets" / "features" / "unscored.jsonl", rows)
    v1 = tmp_path / "sample-data" / "buckets" / "models" / "scorer" / "v1"
    v1.mkdir(parents=True)
    model = LogisticRegression().fit([[0, -1, 0], [0, 1, 0]], [0, 1])  # id, x, noise
    joblib.dump(model, v1 / "model.joblib")
    return config


def _written(out: pathlib.Path, table: str) -> list[dict[str, object]]:
    lines = (out / "data" / "bigquery" / f"{TABLES}.{table}.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


@pytest.mark.parametrize(
    ("job", "table", "columns"),
    [
        ("declared", "scores", ["id", "prediction"]),
        ("undeclared", "everything", ["id", "x", "noise", "prediction"]),
        ("cased", "cased", ["ID", "Prediction"]),
    ],
)
def test_a_batch_job_writes_the_columns_its_table_declares(
    scorer: pathlib.Path, job: str, table: str, columns: list[str]
) -> None:
    out = scorer.parent / "out"
    result = pipeline_run(scorer, job, out)
    assert statuses(result) == {"batch-predict": "succeeded"}, result.steps
    rows = _written(out, table)
    assert [list(row) for row in rows] == [columns] * 6
    assert [row[columns[0]] for row in rows] == list(range(6))
    assert {row[columns[-1]] for row in rows} <= {0, 1}
