"""ingest reads only the listed columns of a BigQuery table (what a feature view's ingest compiles to)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fake_bigquery
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlopsctl_stage.cli import main
from mlopsctl_stage.tables import read_examples

ROWS = [{"id": i, "age": 20 + i % 50, "country": ["FR", "NO"][i % 2], "secret": f"s{i}"} for i in range(100)]
COLUMNS = ["id", "age", "country"]


def _ingest(source: dict[str, Any], out: Path) -> dict[str, pa.Table]:
    main(["ingest", "--config", json.dumps({"source": source}), "--examples", str(out)])
    return read_examples(out)[0]


def test_only_the_columns_are_read_from_the_local_root(local_root: Path, tmp_path: Path) -> None:
    (local_root / "bigquery").mkdir()
    pq.write_table(pa.Table.from_pylist(ROWS), local_root / "bigquery" / "p.features.customers.parquet")
    splits = _ingest({"bigquery": {"table": "p.features.customers", "columns": COLUMNS}}, tmp_path / "out")
    assert [t.column_names for t in splits.values()] == [COLUMNS, COLUMNS]
    assert sum(t.num_rows for t in splits.values()) == len(ROWS)


@pytest.fixture
def bigquery(monkeypatch: pytest.MonkeyPatch) -> Iterator[fake_bigquery.FakeBigQuery]:
    with fake_bigquery.emulated(monkeypatch) as fake:
        yield fake


def test_only_the_columns_are_read_in_the_cloud(bigquery: fake_bigquery.FakeBigQuery, tmp_path: Path) -> None:
    bigquery.put("p.features.customers", pa.Table.from_pylist(ROWS))
    splits = _ingest(
        {"bigquery": {"table": "p.features.customers", "columns": ["country", "id"]}}, tmp_path / "o"
    )
    assert splits["train"].column_names == ["country", "id"]


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ([], "source.bigquery.columns: must be a non-empty list of column names"),
        ("id", "source.bigquery.columns: must be a non-empty list of column names"),
        (["id", ""], "source.bigquery.columns: must be a non-empty list of column names"),
        (["id", "churned"], "table (p.features.customers): has no column 'churned'"),
    ],
)
def test_bad_columns_fail_with_one_line(
    local_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], columns: Any, message: str
) -> None:
    (local_root / "bigquery").mkdir()
    pq.write_table(pa.Table.from_pylist(ROWS), local_root / "bigquery" / "p.features.customers.parquet")
    with pytest.raises(SystemExit):
        _ingest({"bigquery": {"table": "p.features.customers", "columns": columns}}, tmp_path / "out")
    err = capsys.readouterr().err
    assert err.startswith(f"mlopsctl-stage ingest: {message}") and err.count("\n") == 1
    assert not (tmp_path / "out").exists()
