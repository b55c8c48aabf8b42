"""The storage layer's local backend, on real files under a temporary ``$ROOT``."""

from __future__ import annotations

import gzip
import io
import json
import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import fastavro
import pyarrow as pa
import pyarrow.csv
import pyarrow.parquet as pq
import pytest

from mlopsctl_stage import storage
from mlopsctl_stage.errors import StageError

ROWS = [
    {"id": 1, "city": "Lyon", "ts": "2024-01-01T00:00:00Z"},
    {"id": 2, "city": "Oslo", "ts": "2024-01-02T12:00:00Z"},
    {"id": 3, "city": None, "ts": "2024-01-03T00:00:00Z"},
]


def _bq(root: Path, table: str, extension: str) -> Path:
    path = root / "bigquery" / f"{table}{extension}"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _write(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        pq.write_table(table, path)
    elif path.suffix == ".csv":
        pyarrow.csv.write_csv(table, path)
    else:
        path.write_text("".join(json.dumps(row, default=str) + "\n" for row in table.to_pylist()))


def test_settings_are_none_without_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(storage.LOCAL_ENV, raising=False)
    assert storage.local_settings() is None


def test_settings_are_read_relative_to_their_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = tmp_path / "run" / "local.json"
    settings.parent.mkdir()
    settings.write_text(
        json.dumps(
            {
                "root": "data",
                "code": {"trainer:1": "/abs/code"},
                "trials": 3,
                "endpoints": {"http://svc.ns": "http://127.0.0.1:9"},
                "now": "2024-05-01T10:00:00",
            }
        )
    )
    monkeypatch.setenv(storage.LOCAL_ENV, str(settings))
    assert storage.local_settings() == storage.LocalSettings(
        root=tmp_path / "run" / "data",
        code={"trainer:1": Path("/abs/code")},
        trials=3,
        endpoints={"http://svc.ns": "http://127.0.0.1:9"},
        now=datetime(2024, 5, 1, 10, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (None, "No such file"),
        ("{not json", "unreadable"),
        ('{"code": {}}', '"root"'),
        ('{"root": "/r", "now": "yesterday"}', "Invalid isoformat"),
    ],
)
def test_bad_settings_are_one_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str | None, why: str
) -> None:
    settings = tmp_path / "local.json"
    if content is not None:
        settings.write_text(content)
    monkeypatch.setenv(storage.LOCAL_ENV, str(settings))
    with pytest.raises(StageError, match=why) as raised:
        storage.local_settings()
    assert raised.value.subject == f"local settings ({storage.LOCAL_ENV}={settings})"


@pytest.mark.parametrize("extension", [".parquet", ".jsonl", ".csv"])
def test_a_table_is_read_from_its_file(local_root: Path, extension: str) -> None:
    _write(_bq(local_root, "p.d.t", extension), pa.Table.from_pylist(ROWS))
    found = storage.read_table("bq://p.d.t", columns=["city", "id"])
    assert found.column_names == ["city", "id"]
    assert found.column("id").to_pylist() == [1, 2, 3]
    assert found.column("city").to_pylist() == ["Lyon", "Oslo", None]


def test_parquet_is_read_before_json_lines(local_root: Path) -> None:
    _write(_bq(local_root, "p.d.t", ".jsonl"), pa.Table.from_pylist(ROWS))
    _write(_bq(local_root, "p.d.t", ".parquet"), pa.Table.from_pylist(ROWS[:1]))
    assert storage.read_table("p.d.t").num_rows == 1


def _times(kind: str) -> pa.Array:
    moments = [
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2024, 1, 2, 12, tzinfo=UTC),
        datetime(2024, 1, 3, tzinfo=UTC),
    ]
    if kind == "aware":
        return pa.array(moments, pa.timestamp("us", tz="UTC"))
    if kind == "naive":
        return pa.array([m.replace(tzinfo=None) for m in moments], pa.timestamp("ms"))
    if kind == "text with zone":
        return pa.array([m.isoformat() for m in moments])
    if kind == "text without zone":
        return pa.array([m.replace(tzinfo=None).isoformat(sep=" ") for m in moments])
    return pa.array([m.date() for m in moments], pa.date32())


@pytest.mark.parametrize(
    ("kind", "extension", "since", "ids"),
    [
        ("aware", ".parquet", datetime(2024, 1, 2, 12, tzinfo=UTC), [2, 3]),
        ("naive", ".parquet", datetime(2024, 1, 2, 12, 0, 1, tzinfo=UTC), [3]),
        ("aware", ".parquet", datetime(2024, 1, 2, 13, 30), [3]),  # a naive time is UTC
        ("text with zone", ".jsonl", datetime(2024, 1, 2, 12, tzinfo=UTC), [2, 3]),
        ("text without zone", ".parquet", datetime(2024, 1, 1, 0, 0, 1, tzinfo=UTC), [2, 3]),
        ("text without zone", ".csv", datetime(2024, 1, 4, tzinfo=UTC), []),
        ("date", ".parquet", datetime(2024, 1, 2, 23, tzinfo=UTC), [2, 3]),
    ],
)
def test_since_keeps_the_rows_at_or_after_a_time(
    local_root: Path, kind: str, extension: str, since: datetime, ids: list[int]
) -> None:
    _write(_bq(local_root, "p.d.t", extension), pa.table({"id": [1, 2, 3], "ts": _times(kind)}))
    assert storage.read_table("p.d.t", columns=["id"], since=("ts", since)).column("id").to_pylist() == ids


@pytest.mark.parametrize(
    ("setup", "call", "message"),
    [
        (None, {}, "table (p.d.t): not found locally: none of .*p.d.t.parquet"),
        (".parquet", {"columns": ["id", "nope"]}, "table (p.d.t): has no column 'nope'"),
        (".parquet", {"since": ("nope", datetime(2024, 1, 1))}, "has no column 'nope' to filter on"),
        (".parquet", {"since": ("id", datetime(2024, 1, 1))}, "cannot filter on 'id': it holds int64"),
    ],
)
def test_table_errors_name_the_table(
    local_root: Path, setup: str | None, call: dict[str, Any], message: str
) -> None:
    if setup:
        _write(_bq(local_root, "p.d.t", setup), pa.Table.from_pylist(ROWS))
    with pytest.raises(StageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        storage.read_table("p.d.t", **call)


def test_a_table_name_has_three_parts(local_root: Path) -> None:
    with pytest.raises(StageError, match=r"table \(p\.t\): must be PROJECT\.DATASET\.TABLE"):
        storage.read_table("p.t")


def test_appended_rows_are_read_back(local_root: Path) -> None:
    stamp = datetime(2024, 3, 1, 8, 30, tzinfo=UTC)
    storage.append_rows("p.logs.requests", [{"ts": stamp, "request": json.dumps({"instances": [[1, 2]]})}])
    storage.append_rows("p.logs.requests", [{"ts": stamp.replace(hour=9), "request": "{}"}], row_ids=["r"])
    storage.append_rows("p.logs.requests", [])
    found = storage.read_table("p.logs.requests", since=("ts", stamp.replace(hour=9)))
    assert found.column("request").to_pylist() == ["{}"]
    assert found.column("request").type == pa.string()  # JSON columns come back as text
    assert (local_root / "bigquery" / "p.logs.requests.jsonl").read_text().count("\n") == 2
    assert storage.table_modified("p.logs.requests") is not None


def test_rows_are_not_appended_behind_a_file_read_first(local_root: Path) -> None:
    _write(_bq(local_root, "p.d.t", ".parquet"), pa.Table.from_pylist(ROWS))
    with pytest.raises(
        StageError, match=r"rows are appended to .*p\.d\.t\.jsonl, but .*p\.d\.t\.parquet is read"
    ):
        storage.append_rows("p.d.t", [{"id": 4}])


def test_a_row_json_cannot_hold_is_an_error(local_root: Path) -> None:
    with pytest.raises(
        StageError, match=r"table \(p\.d\.t\): a row cannot be written: set is not a table value"
    ):
        storage.append_rows("p.d.t", [{"id": {1, 2}}])


def test_table_modified_is_none_for_a_missing_table(local_root: Path) -> None:
    assert storage.table_modified("p.d.none") is None
    _write(_bq(local_root, "p.d.t", ".csv"), pa.Table.from_pylist(ROWS))
    modified = storage.table_modified("p.d.t")
    assert modified is not None and abs((datetime.now(UTC) - modified).total_seconds()) < 60


def _touch(path: Path, day: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("id\n1\n")
    stamp = datetime(2024, 1, day, tzinfo=UTC).timestamp()
    os.utime(path, (stamp, stamp))


def test_dataset_modified_is_its_newest_table(local_root: Path) -> None:
    for name, day in [
        ("p.d.a.jsonl", 1),
        ("p.d.b.csv", 3),
        ("p.d.c.parquet", 2),
        ("p.d.c.csv", 9),  # behind p.d.c.parquet, which is what is read
        ("p.d.x.y.jsonl", 9),  # not a table name
        ("p.d.notes.txt", 9),  # not a table file
        ("p.dd.t.jsonl", 9),  # another dataset
        ("q.d.t.jsonl", 9),  # another project
    ]:
        _touch(local_root / "bigquery" / name, day)
    assert storage.dataset_modified("p.d") == datetime(2024, 1, 3, tzinfo=UTC)
    assert storage.dataset_modified("bq://p.dd") == datetime(2024, 1, 9, tzinfo=UTC)


def test_dataset_modified_is_none_without_tables(local_root: Path) -> None:
    assert storage.dataset_modified("p.d") is None  # no bigquery/ folder at all
    _touch(local_root / "bigquery" / "p.other.t.jsonl", 1)
    assert storage.dataset_modified("p.d") is None
    with pytest.raises(StageError, match=r"^dataset \(p\.d\.t\): must be PROJECT\.DATASET$"):
        storage.dataset_modified("p.d.t")


def test_a_query_cannot_run_locally(local_root: Path) -> None:
    with pytest.raises(
        StageError, match=r"^query: a BigQuery query cannot run locally; read a table instead"
    ):
        storage.query("SELECT 1", "p")


def test_gcs_objects_live_under_the_root(local_root: Path) -> None:
    storage.write_bytes("gs://b/raw/a.csv", b"x\n1\n")
    storage.write_bytes("gs://b/raw/sub/b.csv", b"x\n22\n")
    storage.write_bytes("gs://b/raw2/c.csv", b"x\n3\n")
    assert (local_root / "gcs" / "b" / "raw" / "a.csv").read_bytes() == b"x\n1\n"
    assert storage.read_bytes("gs://b/raw/sub/b.csv") == b"x\n22\n"
    listed = storage.list_objects("gs://b/raw")
    assert [(o.uri, o.size) for o in listed] == [("gs://b/raw/a.csv", 4), ("gs://b/raw/sub/b.csv", 5)]
    assert [o.uri for o in storage.list_objects("gs://b/raw/a.csv")] == ["gs://b/raw/a.csv"]
    assert storage.list_objects("gs://b/none/") == []
    assert (storage.exists("gs://b/raw"), storage.exists("gs://b/raw/a.csv"), storage.exists("gs://b/x")) == (
        True,
        True,
        False,
    )


def test_local_paths_are_the_file_system_in_either_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(storage.LOCAL_ENV, raising=False)
    storage.write_bytes(str(tmp_path / "d" / "f.txt"), b"hello")
    assert [o.uri for o in storage.list_objects(str(tmp_path / "d"))] == [str(tmp_path / "d" / "f.txt")]
    assert storage.read_bytes(f"file://{tmp_path}/d/f.txt") == b"hello"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: storage.read_bytes("gs://b/none"), r"file \(.*/gcs/b/none\): not found"),
        (lambda: storage.read_bytes("s3://b/x"), r"address \(s3://b/x\): only gs:// URIs and local paths"),
        (lambda: storage.download_dir("gs://b/none/", Path("/tmp/x")), r"folder \(gs://b/none/\): not found"),
        (
            lambda: storage.upload_dir(Path("/nonexistent"), "gs://b/x/"),
            r"folder \(/nonexistent\): not a folder",
        ),
    ],
)
def test_object_errors(local_root: Path, call: Any, message: str) -> None:
    with pytest.raises(StageError, match=message):
        call()


def test_folders_are_copied_both_ways(local_root: Path, tmp_path: Path) -> None:
    model = tmp_path / "model"
    (model / "m" / "1").mkdir(parents=True)
    (model / "m" / "1" / "model.onnx").write_bytes(b"\x00onnx")
    (model / "config.json").write_text("{}")
    storage.upload_dir(model, "gs://b/models/m/v1/")
    assert sorted(o.uri for o in storage.list_objects("gs://b/models/m/v1/")) == [
        "gs://b/models/m/v1/config.json",
        "gs://b/models/m/v1/m/1/model.onnx",
    ]
    copy = tmp_path / "copy"
    storage.download_dir("gs://b/models/m/v1", copy)
    assert (copy / "m" / "1" / "model.onnx").read_bytes() == b"\x00onnx"
    assert (copy / "config.json").read_text() == "{}"


def _avro(rows: list[dict[str, Any]]) -> bytes:
    schema = {
        "type": "record",
        "name": "Row",
        "fields": [{"name": "x", "type": "long"}, {"name": "name", "type": ["null", "string"]}],
    }
    out = io.BytesIO()
    fastavro.writer(out, fastavro.parse_schema(schema), rows)
    return out.getvalue()


def _parquet(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def test_files_of_every_format_become_one_table(local_root: Path) -> None:
    storage.write_bytes("gs://b/in/1.csv", b"x,name\n1,a\n")
    storage.write_bytes("gs://b/in/2.parquet", _parquet(pa.table({"x": [2], "name": ["b"]})))
    storage.write_bytes("gs://b/in/3.jsonl", b'{"x": 3, "name": "c"}\n')
    storage.write_bytes("gs://b/in/4.json.gz", gzip.compress(b'{"x": 4, "name": "d"}\n'))
    storage.write_bytes("gs://b/in/5.avro", _avro([{"x": 5, "name": None}]))
    storage.write_bytes("gs://b/in/_SUCCESS", b"")
    storage.write_bytes("gs://b/in/.tmp-part", b"garbage")
    found = storage.read_files("gs://b/in/")
    assert found.column("x").to_pylist() == [1, 2, 3, 4, 5]
    assert found.column("name").to_pylist() == ["a", "b", "c", "d", None]


def test_nested_json_stays_nested(local_root: Path) -> None:
    storage.write_bytes("gs://b/in/a.jsonl", b'{"user": {"age": 3, "tags": ["x"]}, "n": 1}\n')
    found = storage.read_files("gs://b/in/")
    assert pa.types.is_struct(found.schema.field("user").type)
    assert found.column("user").to_pylist() == [{"age": 3, "tags": ["x"]}]


def test_a_named_format_overrides_extensions(local_root: Path) -> None:
    storage.write_bytes("gs://b/in/part-0000", b"x;y\n")
    storage.write_bytes("gs://b/in/part-0001", b'{"x": 1}\n{"x": 2}\n')
    with pytest.raises(StageError, match=r"file \(gs://b/in/part-0000\): unknown format; name it"):
        storage.read_files("gs://b/in/")
    storage.write_bytes("gs://b/in/part-0000", b'{"x": 0}\n')
    assert storage.read_files("gs://b/in/", format="JSON").column("x").to_pylist() == [0, 1, 2]


@pytest.mark.parametrize(
    ("files", "format", "message"),
    [
        ({}, None, r"files \(gs://b/in/\): no data files there"),
        ({"a.tfrecord": b"\x00"}, None, r"a\.tfrecord\): truncated TFRecord: record 0 has a partial header"),
        ({"a.csv": b"x\n1\n"}, "xml", r"format \(xml\): unknown; give one of csv, parquet, jsonl, avro"),
        ({"a.parquet": b"not parquet"}, None, r"a\.parquet\): unreadable as parquet"),
        ({"a.csv.gz": b"not gzip"}, None, r"a\.csv\.gz\): not gzip"),
        (
            {"a.csv": b"x\n1\n", "b.csv": b"x\nz\n"},
            None,
            r"files \(gs://b/in/\): the files' columns do not agree",
        ),
    ],
)
def test_unreadable_files_are_one_error(
    local_root: Path, files: dict[str, bytes], format: str | None, message: str
) -> None:
    for name, data in files.items():
        storage.write_bytes(f"gs://b/in/{name}", data)
    with pytest.raises(StageError, match=message):
        storage.read_files("gs://b/in/", format)


def test_dates_and_bytes_are_written_as_json_text(local_root: Path) -> None:
    storage.append_rows("p.d.t", [{"day": date(2024, 1, 2), "raw": b"\x01", "at": datetime(2024, 1, 2, 3)}])
    line = json.loads((local_root / "bigquery" / "p.d.t.jsonl").read_text())
    assert line == {"day": "2024-01-02", "raw": "AQ==", "at": "2024-01-02T03:00:00+00:00"}
