"""Local runs with the stage runtime's built-in steps: a training pipeline and a batch job on its model.

The training pipeline ingests a table from the sample data, trains a scikit-learn model with the
user's code, evaluates it against a threshold and pushes it when blessed. The batch job scores a
table through the stage runtime's model server, started for the run on the model version
shipped in the sample data.
"""

from __future__ import annotations

import json
import pathlib
import random

import pytest
from api_helpers import pipeline_run, refusal, run_locally, statuses
from run_projects import HEAD, SCORER, jsonl, project

from mlopsctl.run.result import StepResult

PROJECT = (
    HEAD
    + """\
data:
  buckets:
    models: {}
    scores: {}
  datasets:
    features: {}
"""
    + SCORER
    + """\
pipelines:
  train:
    parameters:
      accuracy: 0.8
    steps:
      ingest:
        kind: ingest
        source:
          bigquery: {dataset: features, table: labelled}
        label: label
        outputs:
          examples: dataset
      fit:
        kind: train
        image: reg/trainer:1
        code: code
        command: [python, fit.py]
        inputs:
          examples: ingest.examples
        outputs:
          model: model
      evaluate:
        kind: evaluate
        inputs:
          model: fit.model
          examples: ingest.examples
        outputs:
          metrics: metrics
          blessed: boolean
        thresholds:
          accuracy: {min: 0.8}
      push:
        kind: push
        model: scorer
        inputs:
          model: fit.model
        when:
          output: evaluate.blessed
          value: true
batchJobs:
  nightly:
    model: scorer
    version: v1
    input:
      bigquery: {dataset: features, table: unlabelled}
    output:
      gcs: scores/nightly/
"""
)
FIT = {
    "fit.py": """\
        import argparse, json, pathlib
        import joblib  # type: ignore[import-untyped]
        import numpy as np
        import pyarrow.parquet as pq
        from sklearn.linear_model import LogisticRegression
        p = argparse.ArgumentParser()
        p.add_argument("--examples", type=pathlib.Path)
        p.add_argument("--model", type=pathlib.Path)
        a = p.parse_args()
        label = json.loads((a.examples / "metadata.json").read_text())["label"]
        table = pq.read_table(a.examples / "Split-train" / "data.parquet")
        features = np.column_stack([table[c].to_numpy() for c in table.column_names if c != label])
        model = LogisticRegression().fit(features, table[label].to_numpy())
        a.model.mkdir(parents=True)
        joblib.dump(model, a.model / "model.joblib")
        print("fitted on", table.num_rows, "rows")
    """
}


def _rows(rng: random.Random, count: int, labelled: bool) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for _ in range(count):
        x = rng.uniform(-1, 1)
        row: dict[str, object] = {"x": x, "noise": rng.uniform(-1, 1)}
        if labelled:
            row["label"] = int(x > 0)
        rows.append(row)
    return rows


@pytest.fixture
def trained(tmp_path: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    """The project, its sample tables, and a model version v1 trained once in the sample data."""
    import joblib  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression

    config = project(tmp_path, PROJECT, FIT)
    rng = random.Random(0)
    tables = tmp_path / "sample-data" / "datasets" / "features"
    jsonl(tables / "labelled.jsonl", _rows(rng, 300, labelled=True))
    jsonl(tables / "unlabelled.jsonl", _rows(rng, 5, labelled=False))
    v1 = tmp_path / "sample-data" / "buckets" / "models" / "scorer" / "v1"
    v1.mkdir(parents=True)
    joblib.dump(LogisticRegression().fit([[-1, 0], [1, 0]], [0, 1]), v1 / "model.joblib")
    return config, tmp_path / "out"


def test_ingest_train_evaluate_push(
    trained: tuple[pathlib.Path, pathlib.Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, out = trained
    result = pipeline_run(config, "train", out)
    assert statuses(result) == dict.fromkeys(["ingest", "fit", "evaluate", "push"], "succeeded")
    assert result.steps["evaluate"].outputs["blessed"] is True
    examples = result.steps["ingest"].outputs["examples"]
    assert isinstance(examples, str)
    assert json.loads((pathlib.Path(examples) / "metadata.json").read_text())["label"] == "label"
    assert "[fit] fitted on " in capsys.readouterr().err
    # The model was pushed into the local stand-in of the models bucket, beside v1.
    registry = out / "data" / "gcs" / "demo-dev-us-central1-models" / "scorer"
    assert len([p for p in registry.iterdir() if p.name != "v1"]) == 1


def test_a_batch_job_scores_through_a_local_model_server(trained: tuple[pathlib.Path, pathlib.Path]) -> None:
    import pyarrow.parquet as pq

    config, out = trained
    result = pipeline_run(config, "nightly", out)
    assert result.ok
    assert result.steps == {"batch-predict": StepResult("succeeded")}
    settings = json.loads((out / "local.json").read_text())
    [(cluster, local)] = settings["endpoints"].items()
    assert cluster.startswith("http://scorer-main-predictor.demo.svc")
    assert local.startswith("http://127.0.0.1:")
    [scores] = (out / "data" / "gcs" / "demo-dev-us-central1-scores" / "nightly").iterdir()
    table = pq.read_table(scores)
    assert table.num_rows == 5
    assert "prediction" in table.column_names


def test_a_batch_job_needs_its_model_version(trained: tuple[pathlib.Path, pathlib.Path]) -> None:
    config, out = trained
    model = config.parent / "sample-data" / "buckets" / "models" / "scorer" / "v1" / "model.joblib"
    model.unlink()
    model.parent.rmdir()
    message = refusal(lambda: run_locally(config, "nightly", out))
    assert message.startswith(
        "model scorer v1: no artifact at gs://demo-dev-us-central1-models/scorer/v1 "
        f"({out / 'data' / 'gcs' / 'demo-dev-us-central1-models' / 'scorer' / 'v1'})"
    )
