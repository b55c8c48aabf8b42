"""``mlopsctl-stage ingest`` end to end through the CLI, on real files (local mode) and fake BigQuery."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import fake_bigquery
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlopsctl_stage import storage
from mlopsctl_stage.cli import main
from mlopsctl_stage.errors import StageError
from mlopsctl_stage.tables import read_examples, write_examples

ROWS = [
    {"id": i, "amount": i * 1.5, "city": ["Lyon", "Oslo", "Lima"][i % 3], "fraud": i % 2} for i in range(200)
]


def _csv(rows: list[dict[str, Any]]) -> bytes:
    lines = ["id,amount,city,fraud"] + [f"{r['id']},{r['amount']},{r['city']},{r['fraud']}" for r in rows]
    return ("\n".join(lines) + "\n").encode()


def _ingest(config: dict[str, Any], out: Path) -> tuple[dict[str, pa.Table], dict[str, Any]]:
    main(["ingest", "--config", json.dumps(config), "--examples", str(out)])
    return read_examples(out)


def _ids(table: pa.Table) -> set[int]:
    return set(table.column("id").to_pylist())


def test_files_under_a_gcs_prefix_become_train_and_eval(local_root: Path, tmp_path: Path) -> None:
    storage.write_bytes("gs://raw/tx/part-0.csv", _csv(ROWS[:120]))
    storage.write_bytes("gs://raw/tx/part-1.csv", _csv(ROWS[120:]))
    storage.write_bytes("gs://raw/tx/_SUCCESS", b"")
    config = {"source": {"gcs": "gs://raw/tx/"}, "split": {"eval": 0.25, "seed": 7}, "label": "fraud"}
    splits, metadata = _ingest(config, tmp_path / "examples")
    assert list(splits) == ["train", "eval"]
    assert _ids(splits["train"]) | _ids(splits["eval"]) == set(range(200))
    assert not _ids(splits["train"]) & _ids(splits["eval"])
    assert 30 <= splits["eval"].num_rows <= 70
    assert metadata == {
        "label": "fraud",
        "source": "gs://raw/tx/",
        "split": {"eval": 0.25, "seed": 7},
        "splits": {"train": splits["train"].num_rows, "eval": splits["eval"].num_rows},
    }
    assert splits["train"].column_names == ["id", "amount", "city", "fraud"]
    assert sorted(p.name for p in (tmp_path / "examples").iterdir()) == [
        "Split-eval",
        "Split-train",
        "metadata.json",
    ]


def test_the_split_follows_row_content_and_seed(local_root: Path, tmp_path: Path) -> None:
    storage.write_bytes("gs://raw/a/x.csv", _csv(ROWS))
    storage.write_bytes("gs://raw/b/x.csv", _csv(ROWS[::-1]))
    storage.write_bytes("gs://raw/c/x.csv", _csv(ROWS[:100]))
    first, _ = _ingest({"source": {"gcs": "gs://raw/a/"}}, tmp_path / "1")
    again, _ = _ingest({"source": {"gcs": "gs://raw/a/"}}, tmp_path / "2")
    reordered, _ = _ingest({"source": {"gcs": "gs://raw/b/"}}, tmp_path / "3")
    fewer, _ = _ingest({"source": {"gcs": "gs://raw/c/"}}, tmp_path / "4")
    reseeded, _ = _ingest({"source": {"gcs": "gs://raw/a/"}, "split": {"seed": 1}}, tmp_path / "5")
    assert first["eval"].equals(again["eval"]) and first["train"].equals(again["train"])
    assert _ids(reordered["eval"]) == _ids(first["eval"])
    assert _ids(fewer["eval"]) == _ids(first["eval"]) & set(range(100))
    assert _ids(reseeded["eval"]) != _ids(first["eval"])


def test_duplicate_rows_stay_on_one_side(local_root: Path, tmp_path: Path) -> None:
    rows = [{"id": i % 20, "amount": 1.0, "city": "Lyon", "fraud": 0} for i in range(200)]
    storage.write_bytes("gs://raw/dup/x.csv", _csv(rows))
    splits, _ = _ingest({"source": {"gcs": "gs://raw/dup/"}, "split": {"eval": 0.5}}, tmp_path / "out")
    assert not _ids(splits["train"]) & _ids(splits["eval"])


def test_nested_records_stay_structs(local_root: Path, tmp_path: Path) -> None:
    lines = [json.dumps({"user": {"age": i, "tags": ["a"] * (i % 3)}, "y": i % 2}) for i in range(50)]
    storage.write_bytes("gs://raw/j/events.jsonl", ("\n".join(lines) + "\n").encode())
    _ingest({"source": {"gcs": "gs://raw/j/", "format": "jsonl"}, "label": "y"}, tmp_path / "out")
    schema = pq.read_schema(tmp_path / "out" / "Split-train" / "data.parquet")
    assert schema.field("user").type == pa.struct([("age", pa.int64()), ("tags", pa.list_(pa.string()))])


def test_a_bigquery_table_is_read_from_the_local_root(local_root: Path, tmp_path: Path) -> None:
    (local_root / "bigquery").mkdir()
    pq.write_table(pa.Table.from_pylist(ROWS), local_root / "bigquery" / "p.sales.tx.parquet")
    splits, metadata = _ingest({"source": {"bigquery": {"table": "p.sales.tx"}}}, tmp_path / "out")
    assert metadata["source"] == "bq://p.sales.tx"
    assert metadata["label"] is None
    assert splits["train"].num_rows + splits["eval"].num_rows == 200


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def web(tmp_path: Path) -> Iterator[str]:
    folder = tmp_path / "web"
    folder.mkdir()
    (folder / "tx.csv").write_bytes(_csv(ROWS))
    handler = partial(_QuietFiles, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_external_uris(local_root: Path, tmp_path: Path, web: str) -> None:
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "tx").write_bytes(_csv(ROWS))
    (local_root / "bigquery").mkdir()
    pq.write_table(pa.Table.from_pylist(ROWS), local_root / "bigquery" / "p.d.t.parquet")
    sources = [
        {"uri": str(tmp_path / "files"), "format": "CSV"},
        {"uri": "bq://p.d.t", "format": "BIGQUERY"},
        {"uri": f"{web}/tx.csv", "format": "CSV"},
    ]
    results = [_ingest({"source": source}, tmp_path / f"out{i}") for i, source in enumerate(sources)]
    evals = [_ids(splits["eval"]) for splits, _ in results]
    assert evals[0] == evals[1] == evals[2]  # the same rows, split the same way, wherever they come from
    assert [metadata["source"] for _, metadata in results] == [s["uri"] for s in sources]


@pytest.mark.parametrize(
    ("files", "config", "message"),
    [
        ({"x.csv": b"id,fraud\n"}, {}, "source (gs://raw/in/): has no rows"),
        ({}, {}, "files (gs://raw/in/): no data files there"),
        (
            {"x.csv": _csv(ROWS)},
            {"label": "label"},
            "label (label): not a column of gs://raw/in/ (it has id,",
        ),
        ({"x.csv": _csv(ROWS)}, {"format": "xml"}, "format (xml): unknown; give one of csv, parquet"),
        ({"x.txt": _csv(ROWS)}, {}, "file (gs://raw/in/x.txt): unknown format; name it"),
        (
            {"x.csv": _csv(ROWS[:3])},
            {"split": {"eval": 0.01}},
            "split.eval (0.01): leaves the eval split empty",
        ),
        ({"x.csv": _csv(ROWS)}, {"split": {"eval": 1}}, "split.eval (1): must be a number between 0 and 1"),
        ({"x.csv": _csv(ROWS)}, {"split": {"seed": "a"}}, "split.seed (a): must be an integer"),
        ({"x.csv": _csv(ROWS)}, {"split": [0.2]}, 'split: must be {"eval": FRACTION, "seed": INTEGER}'),
    ],
)
def test_bad_inputs_fail_with_one_line(
    local_root: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    files: dict[str, bytes],
    config: dict[str, Any],
    message: str,
) -> None:
    for name, data in files.items():
        storage.write_bytes(f"gs://raw/in/{name}", data)
    source = {"gcs": "gs://raw/in/", **({"format": config.pop("format")} if "format" in config else {})}
    with pytest.raises(SystemExit) as exited:
        main(
            [
                "ingest",
                "--config",
                json.dumps({"source": source, **config}),
                "--examples",
                str(tmp_path / "out"),
            ]
        )
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith(f"mlopsctl-stage ingest: {message}")
    assert err.count("\n") == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (None, 'source: give exactly one of "gcs", "bigquery" or "uri"'),
        ({"gcs": "gs://a/", "uri": "gs://b/"}, 'source: give exactly one of "gcs", "bigquery" or "uri"'),
        ({"gcs": "/data"}, "source.gcs (/data): must be a gs:// URI"),
        ({"gcs": "gs://a/", "format": 3}, "source.format: must be a string"),
        ({"bigquery": {"table": "p.d.t", "query": "SELECT 1"}}, "source.bigquery: give one of"),
        ({"bigquery": {"query": "SELECT 1"}}, "source.bigquery.project: must be a non-empty string"),
        ({"bigquery": {"query": "SELECT 1", "project": "p"}}, "query: a BigQuery query cannot run locally"),
    ],
)
def test_bad_sources_fail_with_one_line(
    local_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], source: Any, message: str
) -> None:
    with pytest.raises(SystemExit):
        main(["ingest", "--config", json.dumps({"source": source}), "--examples", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert err.startswith(f"mlopsctl-stage ingest: {message}") and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


@pytest.fixture
def bigquery(monkeypatch: pytest.MonkeyPatch) -> Iterator[fake_bigquery.FakeBigQuery]:
    with fake_bigquery.emulated(monkeypatch) as fake:
        yield fake


def test_bigquery_tables_and_queries_in_the_cloud(
    bigquery: fake_bigquery.FakeBigQuery, tmp_path: Path
) -> None:
    table = pa.Table.from_pylist(ROWS)
    bigquery.put("p.sales.tx", table)
    bigquery.results["SELECT * FROM sales.tx"] = table
    from_table, _ = _ingest(
        {"source": {"bigquery": {"table": "p.sales.tx"}}, "label": "fraud"}, tmp_path / "a"
    )
    query = {"query": "SELECT * FROM sales.tx", "project": "p"}
    from_query, metadata = _ingest({"source": {"bigquery": query}}, tmp_path / "b")
    assert _ids(from_table["eval"]) == _ids(from_query["eval"])
    assert (metadata["source"], metadata["query"]) == ("bq://p", "SELECT * FROM sales.tx")


def test_examples_round_trip(tmp_path: Path) -> None:
    splits = {"train": pa.table({"x": [1, 2]}), "eval": pa.table({"x": [3]}), "holdout": pa.table({"x": [4]})}
    write_examples(tmp_path / "ex", splits, {"label": None, "source": "gs://b/", "splits": {"stale": 9}})
    found, metadata = read_examples(tmp_path / "ex")
    assert list(found) == ["train", "eval", "holdout"]
    assert found["eval"].equals(splits["eval"])
    assert metadata["splits"] == {"train": 2, "eval": 1, "holdout": 1}


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ({}, r"not an examples artifact: no metadata\.json"),
        ({"metadata.json": "[]"}, "must hold a JSON object"),
        ({"metadata.json": "{"}, "unreadable"),
        ({"metadata.json": "{}"}, r"not an examples artifact: no Split-\* folders"),
        ({"metadata.json": "{}", "Split-train/data.parquet": "nope"}, "unreadable Parquet"),
    ],
)
def test_unreadable_examples_are_one_error(tmp_path: Path, layout: dict[str, str], message: str) -> None:
    for name, text in layout.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    with pytest.raises(StageError, match=message):
        read_examples(tmp_path)


def test_a_missing_download_is_one_error(
    local_root: Path, tmp_path: Path, web: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = {"source": {"uri": f"{web}/none.csv", "format": "CSV"}}
    with pytest.raises(SystemExit):
        main(["ingest", "--config", json.dumps(config), "--examples", str(tmp_path / "out")])
    assert capsys.readouterr().err == (
        f"mlopsctl-stage ingest: source ({web}/none.csv): cannot be downloaded: File not found\n"
    )
