"""A project whose train pipeline logs runs (evaluate) and has a train step, for the tracking tests."""

TRACKED = """\
models:
  clf:
    framework: sklearn
    versions:
      v1: {artifactUri: "gs://models-bucket/clf/v1"}
pipelines:
  train:
    steps:
      ingest:
        kind: ingest
        source: {bigquery: {dataset: features, table: rows}}
        outputs: {examples: dataset}
      fit:
        kind: train
        image: trainer:1
        command: [python, train.py]
        inputs: {data: ingest.examples}
        outputs: {model: model}
      check:
        kind: evaluate
        inputs: {model: fit.model, examples: ingest.examples}
        outputs: {metrics: metrics}
  report:
    steps:
      say:
        image: report:1
        command: [report]
"""
"""Models, a train pipeline (ingest, train, evaluate) and a report pipeline that logs nothing."""
