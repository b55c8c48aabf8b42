"""The storage layer's cloud backend: the real google-cloud clients against fakes on 127.0.0.1.

GCS through its JSON API (``STORAGE_EMULATOR_HOST``), BigQuery through its REST API
(``BIGQUERY_EMULATOR_HOST``) and the Storage Read API over gRPC (``BIGQUERY_STORAGE_EMULATOR_HOST``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fake_bigquery
import fake_gcs_api
import pyarrow as pa
import pytest
from google.cloud.bigquery_storage_v1 import types

from mlopsctl_stage import storage
from mlopsctl_stage.errors import StageError


@pytest.fixture
def gcs(monkeypatch: pytest.MonkeyPatch) -> Iterator[fake_gcs_api.FakeGcs]:
    monkeypatch.delenv(storage.LOCAL_ENV, raising=False)
    with fake_gcs_api.serve() as fake:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", fake.url)
        yield fake


@pytest.fixture
def bigquery(monkeypatch: pytest.MonkeyPatch) -> Iterator[fake_bigquery.FakeBigQuery]:
    with fake_bigquery.emulated(monkeypatch) as fake:
        yield fake


def _day(day: int) -> datetime:
    return datetime(2024, 1, day, tzinfo=UTC)


REQUESTS = pa.table(
    {
        "ts": pa.array([_day(d) for d in range(1, 6)], pa.timestamp("us", tz="UTC")),
        "score": [0.1, 0.2, 0.3, 0.4, 0.5],
        "request": [json.dumps({"instances": [[d]]}) for d in range(1, 6)],
    }
)


def test_objects_are_written_read_and_listed(gcs: fake_gcs_api.FakeGcs) -> None:
    for name in ("raw/a.csv", "raw/b.csv", "raw/sub/c.csv", "raw2/d.csv", "raw/dir/"):
        storage.write_bytes(f"gs://b/{name}", b"x\n1\n" if not name.endswith("/") else b"")
    listed = storage.list_objects("gs://b/raw")  # three pages of the fake's two objects
    assert [(o.uri, o.size) for o in listed] == [
        ("gs://b/raw/a.csv", 4),
        ("gs://b/raw/b.csv", 4),
        ("gs://b/raw/sub/c.csv", 4),
    ]
    assert all(o.updated.tzinfo is not None for o in listed)
    assert [o.uri for o in storage.list_objects("gs://b/raw/a.csv")] == ["gs://b/raw/a.csv"]
    assert storage.read_bytes("gs://b/raw/sub/c.csv") == b"x\n1\n"
    assert [storage.exists(u) for u in ("gs://b/raw/a.csv", "gs://b/raw/", "gs://b/raw", "gs://b/nope")] == [
        True,
        True,
        True,
        False,
    ]
    assert storage.read_files("gs://b/raw/").num_rows == 3


def test_a_missing_object_is_one_error(gcs: fake_gcs_api.FakeGcs) -> None:
    with pytest.raises(StageError, match=r"^object \(gs://b/none\.csv\): not found$"):
        storage.read_bytes("gs://b/none.csv")


def test_folders_go_up_and_come_down(gcs: fake_gcs_api.FakeGcs, tmp_path: Path) -> None:
    model = tmp_path / "model"
    (model / "m" / "1").mkdir(parents=True)
    (model / "m" / "1" / "model.onnx").write_bytes(b"\x00" * 100)
    (model / "config.pbtxt").write_text('name: "m"')
    storage.upload_dir(model, "gs://reg/models/m/v1")
    assert sorted(gcs.objects) == [("reg", "models/m/v1/config.pbtxt"), ("reg", "models/m/v1/m/1/model.onnx")]
    storage.download_dir("gs://reg/models/m/v1/", tmp_path / "copy")
    assert (tmp_path / "copy" / "m" / "1" / "model.onnx").read_bytes() == b"\x00" * 100
    with pytest.raises(StageError, match=r"^folder \(gs://reg/none/\): not found$"):
        storage.download_dir("gs://reg/none/", tmp_path / "none")


def test_a_table_is_read_through_the_read_api(bigquery: fake_bigquery.FakeBigQuery) -> None:
    bigquery.put("p.logs.requests", REQUESTS)
    found = storage.read_table("p.logs.requests")
    assert found.equals(REQUESTS)  # joined from two read streams
    assert found.column("request").type == pa.string()
    assert bigquery.parents == ["projects/p"]
    assert bigquery.sessions[0].data_format == types.DataFormat.ARROW


def test_columns_and_since_are_pushed_to_the_read_session(bigquery: fake_bigquery.FakeBigQuery) -> None:
    bigquery.put("p.logs.requests", REQUESTS)
    found = storage.read_table("p.logs.requests", columns=["score", "ts"], since=("ts", datetime(2024, 1, 4)))
    assert found.column_names == ["score", "ts"]
    assert found.column("score").to_pylist() == [0.4, 0.5]
    options = bigquery.sessions[0].read_options
    assert list(options.selected_fields) == ["score", "ts"]
    assert options.row_restriction == "`ts` >= TIMESTAMP '2024-01-04 00:00:00+00:00'"


def test_no_rows_is_an_empty_table_with_its_columns(
    bigquery: fake_bigquery.FakeBigQuery, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "billing")
    bigquery.put("p.logs.requests", REQUESTS)
    found = storage.read_table("p.logs.requests", since=("ts", _day(9)))
    assert (found.num_rows, found.schema) == (0, REQUESTS.schema)
    assert bigquery.parents == ["projects/billing"]


def test_a_missing_table_is_one_error(bigquery: fake_bigquery.FakeBigQuery) -> None:
    with pytest.raises(StageError, match=r"^table \(p\.d\.none\): not found$"):
        storage.read_table("p.d.none")


def test_a_query_returns_arrow(bigquery: fake_bigquery.FakeBigQuery) -> None:
    bigquery.results["SELECT * FROM t"] = pa.table({"x": [1, 2], "name": ["a", None], "f": [0.5, None]})
    found = storage.query("SELECT * FROM t", "p")
    assert found.to_pylist() == [{"x": 1, "name": "a", "f": 0.5}, {"x": 2, "name": None, "f": None}]


def test_a_bad_query_is_one_error(bigquery: fake_bigquery.FakeBigQuery) -> None:
    with pytest.raises(StageError, match=r"^query \(in p\): Syntax error: Unexpected query 'SELEC'$"):
        storage.query("SELEC", "p")


def test_rows_are_streamed_in_batches(bigquery: fake_bigquery.FakeBigQuery) -> None:
    bigquery.put("p.logs.requests", REQUESTS)
    rows = [{"ts": _day(7), "score": i / 1000, "request": "{}"} for i in range(1201)]
    storage.append_rows("p.logs.requests", rows)
    inserted = bigquery.inserted["p.logs.requests"]
    assert len(inserted) == 1201
    assert inserted[0] == {"ts": "2024-01-07T00:00:00+00:00", "score": 0.0, "request": "{}"}


@pytest.mark.parametrize("size", [3, 501])
def test_row_ids_reach_the_insert_requests(bigquery: fake_bigquery.FakeBigQuery, size: int) -> None:
    bigquery.put("p.logs.requests", REQUESTS)
    ids = [f"request-{i}" for i in range(size)]
    storage.append_rows("p.logs.requests", [{"score": i / 1000} for i in range(size)], row_ids=ids)
    assert bigquery.insert_ids["p.logs.requests"] == ids  # in order, across batches


def test_without_row_ids_each_row_gets_a_random_id(bigquery: fake_bigquery.FakeBigQuery) -> None:
    bigquery.put("p.logs.requests", REQUESTS)
    for _ in range(2):
        storage.append_rows("p.logs.requests", [{"score": 0.5}])
    first, second = bigquery.insert_ids["p.logs.requests"]
    assert first and second and first != second  # a retried call is not de-duplicated


def test_row_ids_must_match_the_rows(bigquery: fake_bigquery.FakeBigQuery) -> None:
    bigquery.put("p.logs.requests", REQUESTS)
    with pytest.raises(ValueError, match="1 row ids for 2 rows"):
        storage.append_rows("p.logs.requests", [{"score": 0.1}, {"score": 0.2}], row_ids=["a"])
    assert bigquery.insert_ids == {}


def test_refused_rows_are_reported(bigquery: fake_bigquery.FakeBigQuery) -> None:
    bigquery.put("p.logs.requests", REQUESTS)
    rows: list[dict[str, Any]] = [{"score": 1.0}, {"score": 2.0, "extra": 1}, {"oops": 1}, {"a": 1}, {"b": 2}]
    with pytest.raises(
        StageError,
        match=r"^table \(p\.logs\.requests\): 5 of 5 rows refused: row 1: no such field: extra\., "
        r"row 2: no such field: oops\., row 3: no such field: a\. and 2 more$",
    ):
        storage.append_rows("p.logs.requests", rows)
    assert "p.logs.requests" not in bigquery.inserted


def test_table_modified(bigquery: fake_bigquery.FakeBigQuery) -> None:
    bigquery.put("p.d.t", REQUESTS, modified=datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC))
    assert storage.table_modified("p.d.t") == datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert storage.table_modified("p.d.none") is None


def test_dataset_modified_is_its_newest_table(bigquery: fake_bigquery.FakeBigQuery) -> None:
    for day, name in enumerate(["a", "b", "c", "d", "e"], start=1):  # three pages of the fake's two
        bigquery.put(f"p.d.{name}", REQUESTS, modified=_day(day))
    bigquery.put("p.d.view", pa.table({}), modified=_day(20), kind="VIEW")  # no data of its own
    bigquery.put("p.other.t", REQUESTS, modified=_day(25))
    bigquery.put("p.d.gone", REQUESTS, modified=_day(30))
    bigquery.vanished.add("p.d.gone")  # deleted between the listing and its fetch
    assert storage.dataset_modified("p.d") == _day(5)
    assert sorted(bigquery.fetched) == ["p.d.a", "p.d.b", "p.d.c", "p.d.d", "p.d.e", "p.d.gone"]


@pytest.mark.parametrize("dataset", ["p.empty", "p.none"])
def test_dataset_modified_is_none_without_tables(bigquery: fake_bigquery.FakeBigQuery, dataset: str) -> None:
    bigquery.datasets.add("p.empty")
    assert storage.dataset_modified(dataset) is None


@pytest.mark.parametrize("dataset", ["p", "p.d.t", "p.", "bq://p"])
def test_a_dataset_name_has_two_parts(dataset: str) -> None:
    with pytest.raises(StageError, match=r"^dataset \(.*\): must be PROJECT\.DATASET$"):
        storage.dataset_modified(dataset)


def test_missing_credentials_are_one_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (storage.LOCAL_ENV, "STORAGE_EMULATOR_HOST", "BIGQUERY_EMULATOR_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "none.json"))
    with pytest.raises(
        StageError, match=r"^object \(gs://b/x\): no usable Google credentials: File .*none\.json"
    ):
        storage.read_bytes("gs://b/x")
    with pytest.raises(StageError, match=r"^table \(p\.d\.t\): no usable Google credentials"):
        storage.append_rows("p.d.t", [{"x": 1}])
    with pytest.raises(StageError, match=r"^dataset \(p\.d\): no usable Google credentials"):
        storage.dataset_modified("p.d")
