"""Small projects for local-run tests: an mlops.yaml, the code folders of its steps and sample data."""

from __future__ import annotations

import json
import pathlib
import random
import textwrap

from helpers import write

HEAD = """\
apiVersion: mlopsctl.dev/v1alpha1
kind: MLOpsProject
project:
  name: demo
  owner: ml-team@acme.example
  stageImage: registry.example/stages:1
environments:
  dev:
    gcpProject: acme-demo-dev
    regions: [us-central1, us-east1]
"""

FAILING = """\
      fails:
        image: reg/demo:1
        code: code
        command: [python, fail.py]
        outputs:
          out: string
      downstream:
        image: reg/demo:1
        code: code
        command: [python, echo.py]
        inputs:
          word: fails.out
"""
"""Two steps of a pipeline: one that fails, and one that needs its output."""
SCORER = """\
models:
  scorer:
    framework: sklearn
    versions:
      v1:
        artifactUri: gs://demo-${env}-${region}-models/scorer/v1
endpoints:
  scorer:
    variants:
      main: {model: scorer, version: v1}
"""
"""Model ``scorer`` v1 in the ``models`` bucket, served by endpoint ``scorer`` (whose fields may go on)."""
LOGGED_SCORER = (
    """\
data:
  buckets:
    models: {}
  datasets:
    serving: {}
"""
    + SCORER
    + """\
    logging:
      dataset: serving
"""
)
"""SCORER with its bucket, and its requests logged to dataset ``serving``; ``pipelines:`` may follow."""

PIPELINES = (
    HEAD
    + """\
data:
  buckets:
    raw: {}
  datasets:
    features: {}
pipelines:
  counts:
    parameters:
      count: 2
    steps:
      make:
        image: reg/demo:1
        code: code
        command: [python, make.py]
        inputs:
          count: params.count
        outputs:
          total: integer
          rows: dataset
      check:
        image: reg/demo:1
        code: code
        command: [python, check.py]
        inputs:
          rows: make.rows
        outputs:
          lines: integer
      big:
        image: reg/demo:1
        code: code
        command: [python, echo.py]
        args: [--word, big]
        when:
          output: make.total
          operator: ">"
          value: 25
      each:
        image: reg/demo:1
        code: code
        command: [python, double.py]
        parallelFor:
          items: [1, 2, 3]
        outputs:
          doubled: integer
  broken:
    steps:
"""
    + FAILING
    + """\
      guarded:
        image: reg/demo:1
        code: code
        command: [python, echo.py]
        when:
          output: fails.out
          value: go
      aside:
        image: reg/demo:1
        code: code
        command: [python, echo.py]
        args: [--word, aside]
  chain:
    steps:
"""
    + FAILING
    + """\
  nocode:
    steps:
      remote:
        image: reg/elsewhere:1
        command: [python, main.py]
"""
)

CODE = {
    "make.py": """\
        import argparse, pathlib
        p = argparse.ArgumentParser()
        for flag in ("--count", "--total", "--rows"):
            p.add_argument(flag)
        a = p.parse_args()
        print(f"making {a.count} rows")
        pathlib.Path(a.total).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(a.total).write_text(str(int(a.count) * 10))
        pathlib.Path(a.rows).mkdir(parents=True)
        (pathlib.Path(a.rows) / "rows.txt").write_text("".join(f"row {i}\\n" for i in range(int(a.count))))
    """,
    "check.py": """\
        import argparse, pathlib
        p = argparse.ArgumentParser()
        p.add_argument("--rows")
        p.add_argument("--lines")
        a = p.parse_args()
        lines = (pathlib.Path(a.rows) / "rows.txt").read_text().splitlines()
        pathlib.Path(a.lines).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(a.lines).write_text(str(len(lines)))
    """,
    "echo.py": """\
        import argparse
        p = argparse.ArgumentParser()
        p.add_argument("--word")
        print("word:", p.parse_args().word)
    """,
    "double.py": """\
        import argparse, pathlib
        p = argparse.ArgumentParser()
        p.add_argument("--item")
        p.add_argument("--doubled")
        a = p.parse_args()
        pathlib.Path(a.doubled).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(a.doubled).write_text(str(int(a.item) * 2))
    """,
    "fail.py": """\
        import sys
        print("reading the input")
        print("bad input: no rows", file=sys.stderr)
        sys.exit(1)
    """,
}


RETRAIN = """\
pipelines:
  retrain:
    parameters:
      reason: scheduled
    steps:
      note:
        image: reg/demo:1
        code: code
        command: [python, note.py]
        inputs:
          reason: params.reason
        outputs:
          said: string
"""
"""A pipeline ``retrain`` whose one step writes the ``reason`` it was started with (its code: NOTE)."""
NOTE = {
    "note.py": """\
        import argparse, pathlib
        p = argparse.ArgumentParser()
        p.add_argument("--reason")
        p.add_argument("--said")
        a = p.parse_args()
        pathlib.Path(a.said).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(a.said).write_text(f"retrained for {a.reason}")
    """
}


def project(
    folder: pathlib.Path, config: str = PIPELINES, code: dict[str, str] | None = None
) -> pathlib.Path:
    """Write ``config`` as mlops.yaml with a ``code`` folder of scripts and an empty ``sample-data``."""
    for name, text in (CODE if code is None else code).items():
        write(folder / "code", textwrap.dedent(text), name)
    (folder / "sample-data").mkdir(exist_ok=True)
    return write(folder, config)


def jsonl(path: pathlib.Path, rows: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def drift_tables(folder: pathlib.Path, serving_mean: float) -> None:
    """Sample data of the dataset ``serving``: a baseline of amounts around 10 and 200 requests of
    endpoint ``scorer`` whose amounts are around ``serving_mean``, as KServe v1 bodies in its request
    log (JSON text, as BigQuery holds them)."""
    rng = random.Random(0)
    tables = folder / "sample-data" / "datasets" / "serving"
    jsonl(
        tables / "baseline.jsonl",
        [{"amount": rng.gauss(10, 2), "country": rng.choice(["be", "nl"])} for _ in range(200)],
    )
    requests: list[dict[str, object]] = []
    for i in range(200):
        body = {"instances": [{"amount": rng.gauss(serving_mean, 2), "country": rng.choice(["be", "nl"])}]}
        requests.append(
            {
                "timestamp": f"2025-06-02T{i // 60:02d}:{i % 60:02d}:00Z",
                "request_id": f"r{i}",
                "request": json.dumps(body),
                "response": json.dumps({"predictions": [0.5]}),
            }
        )
    jsonl(tables / "scorer_requests.jsonl", requests)
