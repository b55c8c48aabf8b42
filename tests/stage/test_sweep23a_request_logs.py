"""A local request log whose bodies Arrow cannot type as structs: KServe v2 requests whose
tensors hold strings in one input and numbers in another, as the request logger writes them
(objects, not text). Read as BigQuery's read API returns a JSON column, the monitor compares them."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from test_drift import (
    BASELINE,
    END,
    SERVING,
    log_rows,
    monitor_config,
    run,
    shifted_instance,
    v2,
    write_baseline,
)

from mlopsctl_stage.errors import StageError
from mlopsctl_stage.storage.formats import parse


def write_objects(root: Path, rows: list[dict[str, object]]) -> None:
    """The rows with their bodies as JSON objects, one per line."""
    path = root / "bigquery" / f"{SERVING}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        {**row, "request": json.loads(row["request"]), "response": json.loads(row["response"])}
        for row in rows
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def test_a_v2_log_of_mixed_tensors_is_compared(local_root: Path, tmp_path: Path) -> None:
    write_baseline(local_root)
    write_objects(local_root, log_rows(300, END, shifted_instance, body=v2))
    summary = tmp_path / "summary.json"
    run(monitor_config(), "--dry-run", "--summary", str(summary))
    features = json.loads(summary.read_text())["features"]
    assert features["amount"]["breach"] is True and features["amount"]["servingCount"] == 300
    assert features["country"]["breach"] is False and features["country"]["distance"] < 0.02
    assert (local_root / "bigquery" / f"{BASELINE}.parquet").exists()


def test_objects_that_clash_are_read_as_json_text() -> None:
    lines = [
        {"id": 1, "body": {"inputs": [{"data": ["a"]}, {"data": [1.5]}]}, "tags": None},
        {"id": 2, "body": {"inputs": [{"data": [2]}]}, "tags": ["x"]},
    ]
    data = "".join(json.dumps(line) + "\n" for line in lines).encode()
    table = parse(data, "log.jsonl")
    assert table.schema.field("id").type == pa.int64()
    assert table.column("body").to_pylist() == [
        '{"inputs":[{"data":["a"]},{"data":[1.5]}]}',
        '{"inputs":[{"data":[2]}]}',
    ]
    assert table.column("tags").to_pylist() == [None, '["x"]']


def test_scalars_that_clash_still_fail() -> None:
    data = b'{"a": 1}\n{"a": "one"}\n'
    with pytest.raises(StageError, match="unreadable as jsonl"):
        parse(data, "t.jsonl")
