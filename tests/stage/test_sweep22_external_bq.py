"""``ingest`` of an external ``bq://`` table of another project: the Storage Read API session is
created in the step's own project (``source.project``, the billing project), never in the table's,
where the pipeline's account may not create sessions. The real google-cloud-bigquery-storage client
talks to the gRPC fake of tests/stage/fake_bigquery.py, which records each session's parent."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fake_bigquery
import fastavro
import pyarrow as pa
import pytest

from mlopsctl_stage import storage
from mlopsctl_stage.cli import main
from mlopsctl_stage.tables import read_examples

ROWS = [{"id": i, "amount": i * 0.5, "fraud": i % 2} for i in range(60)]
THEIRS = "other-project.shared.transactions"
OWN = "acme-demo-dev"


@pytest.fixture
def bigquery(monkeypatch: pytest.MonkeyPatch) -> Iterator[fake_bigquery.FakeBigQuery]:
    with fake_bigquery.emulated(monkeypatch) as fake:
        fake.put(THEIRS, pa.Table.from_pylist(ROWS))
        yield fake


def _ingest(source: dict[str, Any], out: Path) -> None:
    config = {"source": source, "split": {"eval": 0.25, "seed": 3}, "label": "fraud"}
    main(["ingest", "--config", json.dumps(config), "--examples", str(out)])


@pytest.mark.parametrize("format", ["bigquery", "parquet"])  # a bq:// URI is a table whatever the format says
def test_the_read_session_of_another_projects_table_is_the_steps_own(
    bigquery: fake_bigquery.FakeBigQuery, tmp_path: Path, format: str
) -> None:
    source = {"uri": f"bq://{THEIRS}", "format": format, "project": OWN}
    _ingest(source, tmp_path / "examples")
    assert bigquery.parents == [f"projects/{OWN}"]
    assert [s.table for s in bigquery.sessions] == [
        "projects/other-project/datasets/shared/tables/transactions"
    ]
    splits, metadata = read_examples(tmp_path / "examples")
    assert sum(part.num_rows for part in splits.values()) == len(ROWS)
    assert metadata["source"] == f"bq://{THEIRS}"


def test_the_configured_project_wins_over_the_environment(
    bigquery: fake_bigquery.FakeBigQuery, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "somewhere-else")
    _ingest({"uri": f"bq://{THEIRS}", "format": "bigquery", "project": OWN}, tmp_path / "a")
    _ingest({"uri": f"bq://{THEIRS}", "format": "bigquery"}, tmp_path / "b")
    assert bigquery.parents == [f"projects/{OWN}", "projects/somewhere-else"]


def test_a_bad_project_is_one_line(
    bigquery: fake_bigquery.FakeBigQuery, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        _ingest({"uri": f"bq://{THEIRS}", "format": "bigquery", "project": 7}, tmp_path / "out")
    assert exited.value.code != 0
    err = capsys.readouterr().err
    assert err == "mlopsctl-stage ingest: source.project: must be a non-empty string\n"
    assert not bigquery.sessions and not (tmp_path / "out").exists()


def _avro(rows: list[dict[str, Any]]) -> bytes:
    schema = {
        "type": "record",
        "name": "tx",
        "fields": [
            {"name": "id", "type": "long"},
            {"name": "amount", "type": "double"},
            {"name": "fraud", "type": "long"},
        ],
    }
    out = io.BytesIO()
    fastavro.writer(out, fastavro.parse_schema(schema), rows)
    return out.getvalue()


def test_avro_files_are_read_by_their_named_format(local_root: Path, tmp_path: Path) -> None:
    # BigQuery's Avro exports: files named part-NNNNN, no extension to tell their format by.
    storage.write_bytes("gs://raw/tx/part-00000", _avro(ROWS[:25]))
    storage.write_bytes("gs://raw/tx/part-00001", _avro(ROWS[25:]))
    _ingest({"gcs": "gs://raw/tx/", "format": "avro"}, tmp_path / "examples")
    splits, metadata = read_examples(tmp_path / "examples")
    ids = [i for part in splits.values() for i in part.column("id").to_pylist()]
    assert sorted(ids) == [r["id"] for r in ROWS]
    assert splits["train"].column_names == ["id", "amount", "fraud"]
    assert metadata["label"] == "fraud"
