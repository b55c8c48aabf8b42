"""Ingest sources the compiler hands to the stage: an external ``bq://`` table of another project is
read in a session of the environment's own project (``project`` in the step's ``--config``; Read
Session User granted there, nothing granted in the other project), and ``format: avro`` is a gcs
source's format as the stage reads it."""

from __future__ import annotations

import json
import pathlib
import sys
from collections.abc import Iterator
from typing import Any

import jsonschema
import pyarrow as pa
import pytest
from helpers import OWNED_STAGED_DATA, compile_text, diagnostics

from mlopsctl.compiler.iam import PROJECT_IAM_MEMBER
from mlopsctl.config.schema import schema
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph

sys.path.append(str(pathlib.Path(__file__).resolve().parents[1] / "stage"))  # the BigQuery fake
import fake_bigquery

from mlopsctl_stage.cli import main
from mlopsctl_stage.tables import read_examples

DEV, PROD = Target("dev", "us-central1"), Target("prod", "us-central1")
OWN = {DEV: "acme-demo-dev", PROD: "acme-demo-prod"}
THEIRS = "partner-data.shared.transactions"
EXTERNAL = f"  external:\n    partner: {{uri: 'bq://{THEIRS}', format: BIGQUERY}}\n"
PIPELINE = """\
pipelines:
  churn:
    steps:
      ingest:
        kind: ingest
        source: {SOURCE}
        label: fraud
        outputs: {examples: dataset}
"""
CONFIG = OWNED_STAGED_DATA + EXTERNAL + PIPELINE.replace("{SOURCE}", "{external: partner}")
ON_VERTEX = "placement: {pipelines: vertex}\n"


def _account(target: Target) -> str:
    return f"serviceAccount:pl-churn-{target.env}-usc1@{OWN[target]}.iam.gserviceaccount.com"


def _ingest_config(graph: Graph) -> Any:
    """The ``--config`` of the ingest step, from the spec that goes to KFP or to Vertex AI."""
    for resource in graph:
        if resource.type.endswith(":PipelineVersion") and resource.name.startswith("churn-"):
            spec = resource.inputs["spec"]["pipelineSpec"]
        elif resource.type == "gcp:storage/bucketObject:BucketObject" and resource.name == "pipeline-churn":
            spec = json.loads(resource.inputs["content"])
        else:
            continue
        args = spec["deploymentSpec"]["executors"]["exec-ingest"]["container"]["args"]
        return json.loads(args[args.index("--config") + 1])
    raise AssertionError("no compiled spec of churn")


@pytest.mark.parametrize("placement", ["", ON_VERTEX], ids=["gke", "vertex"])
def test_an_external_table_is_read_in_a_session_of_the_own_project(
    tmp_path: pathlib.Path, placement: str
) -> None:
    graphs = compile_text(tmp_path, CONFIG + placement)
    for target in (DEV, PROD):
        config = _ingest_config(graphs[target])
        assert config["source"] == {"uri": f"bq://{THEIRS}", "format": "bigquery", "project": OWN[target]}
        grants = [
            r
            for r in graphs[target]
            if r.type.lower().endswith("iammember") and r.inputs.get("member") == _account(target)
        ]
        sessions = [r for r in grants if r.inputs["role"] == "roles/bigquery.readSessionUser"]
        assert [(r.type, r.inputs["project"]) for r in sessions] == [(PROJECT_IAM_MEMBER, OWN[target])]
        assert sessions[0].source == ("pipelines", "churn", "steps", "ingest", "source", "external")
        assert {r.inputs.get("project", OWN[target]) for r in grants} == {OWN[target]}  # none in theirs


def test_an_external_gcs_source_gets_no_read_session(tmp_path: pathlib.Path) -> None:
    text = CONFIG.replace(f"uri: 'bq://{THEIRS}', format: BIGQUERY", "uri: 'gs://partner-drop/tx/'")
    graph = compile_text(tmp_path, text)[DEV]
    assert _ingest_config(graph)["source"] == {"uri": "gs://partner-drop/tx/", "format": "parquet"}
    roles = {r.inputs["role"] for r in graph if r.inputs.get("member") == _account(DEV)}
    assert "roles/bigquery.readSessionUser" not in roles


@pytest.fixture
def bigquery(monkeypatch: pytest.MonkeyPatch) -> Iterator[fake_bigquery.FakeBigQuery]:
    with fake_bigquery.emulated(monkeypatch) as fake:
        yield fake


def test_the_compiled_step_reads_the_table_in_a_session_of_its_own_project(
    tmp_path: pathlib.Path, bigquery: fake_bigquery.FakeBigQuery
) -> None:
    rows = [{"id": i, "amount": i * 2.0, "fraud": i % 2} for i in range(40)]
    bigquery.put(THEIRS, pa.Table.from_pylist(rows))
    config = _ingest_config(compile_text(tmp_path / "cfg", CONFIG)[PROD])
    main(["ingest", "--config", json.dumps(config), "--examples", str(tmp_path / "examples")])
    assert bigquery.parents == [f"projects/{OWN[PROD]}"]
    splits, metadata = read_examples(tmp_path / "examples")
    assert sum(part.num_rows for part in splits.values()) == len(rows)
    assert (metadata["source"], metadata["label"]) == (f"bq://{THEIRS}", "fraud")


AVRO = OWNED_STAGED_DATA + PIPELINE.replace("{SOURCE}", "{gcs: raw/exports/, format: avro}")


def test_avro_is_a_gcs_sources_format(tmp_path: pathlib.Path) -> None:
    assert diagnostics(tmp_path / "check", AVRO) == []
    config = _ingest_config(compile_text(tmp_path / "compile", AVRO)[DEV])
    assert config["source"] == {"gcs": "gs://demo-dev-us-central1-raw/exports/", "format": "avro"}


def test_the_schema_takes_avro_and_still_refuses_unknown_formats() -> None:
    validator = jsonschema.Draft202012Validator(schema())
    source = schema()["$defs"]["IngestSource"]["properties"]["format"]
    assert "avro" in json.dumps(source)
    base: dict[str, Any] = {
        "apiVersion": "mlopsctl.dev/v1alpha1",
        "kind": "MLOpsProject",
        "project": {"name": "x"},
        "environments": {"dev": {"gcpProject": "acme-x-dev", "regions": ["us-central1"]}},
    }
    for format, ok in (("avro", True), ("orc", False)):
        step = {"kind": "ingest", "source": {"gcs": "raw/", "format": format}, "outputs": {"e": "dataset"}}
        data = {**base, "pipelines": {"p": {"steps": {"ingest": step}}}}
        assert not list(validator.iter_errors(data)) if ok else list(validator.iter_errors(data))
