"""``batch-predict`` into a BigQuery table declared with a schema: it writes only the declared
columns (``output.bigquery.columns``, ``{name, mode}`` each), under the table's own spelling (BigQuery
compares column names without case), as BigQuery refuses a streamed row with a field its table
lacks; a NULLABLE column nothing fills is left out of the rows, a REQUIRED one fails before scoring.
The real google-cloud-bigquery clients talk to tests/stage/fake_bigquery.py, which refuses such rows
as BigQuery does (and compares field names exactly); the endpoint is a KServe stand-in on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import fake_bigquery
import pyarrow as pa
import pytest

from mlopsctl_stage.cli import main

INPUT = "acme-demo-dev.features.unscored"
OUTPUT = "acme-demo-dev.features.scores"
ROWS = [{"id": i, "x": i * 0.5, "noise": i % 3} for i in range(7)]


class Endpoint:
    """KServe v1 (``2 * x`` per instance) or v2 (``prediction`` and ``probability`` outputs)."""

    def __init__(self) -> None:
        self.calls = 0
        self.url = ""

    def answer(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        if path.endswith(":predict"):
            return {"predictions": [2 * row["x"] for row in body["instances"]]}
        xs = next(i["data"] for i in body["inputs"] if i["name"] == "x")
        return {
            "outputs": [
                {"name": "label", "shape": [len(xs)], "datatype": "FP64", "data": [2 * x for x in xs]},
                {"name": "probability", "shape": [len(xs)], "datatype": "FP64", "data": [0.5] * len(xs)},
            ]
        }


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    found = Endpoint()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            data = json.dumps(found.answer(self.path, body)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
    found.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield found
    server.shutdown()
    server.server_close()


@pytest.fixture
def bigquery(monkeypatch: pytest.MonkeyPatch) -> Iterator[fake_bigquery.FakeBigQuery]:
    with fake_bigquery.emulated(monkeypatch) as fake:
        fake.put(INPUT, pa.Table.from_pylist(ROWS))
        yield fake


def _output_table(fake: fake_bigquery.FakeBigQuery, **columns: pa.DataType) -> None:
    """The output table as created from its declared schema (empty)."""
    fake.put(OUTPUT, pa.schema(columns).empty_table())


def _declared(columns: list[str]) -> list[dict[str, str]]:
    """The compiler's ``columns``: ``NAME`` is NULLABLE, ``NAME!`` REQUIRED."""
    return [{"name": c.rstrip("!"), "mode": "REQUIRED" if c.endswith("!") else "NULLABLE"} for c in columns]


def _run(endpoint: Endpoint, columns: list[str] | None, protocol: str = "v1") -> None:
    output: dict[str, Any] = {"table": OUTPUT}
    if columns is not None:
        output["columns"] = _declared(columns)
    config = {
        "model": {"name": "scorer"},
        "endpoint": {"url": endpoint.url, "protocol": protocol},
        "input": {"bigquery": {"table": INPUT}},
        "output": {"bigquery": output},
        "batchSize": 3,
    }
    main(["batch-predict", "--config", json.dumps(config)])


def test_a_declared_schema_gets_exactly_its_columns(
    bigquery: fake_bigquery.FakeBigQuery, endpoint: Endpoint
) -> None:
    _output_table(bigquery, prediction=pa.float64(), id=pa.int64())
    _run(endpoint, ["prediction", "id"])
    assert bigquery.inserted[OUTPUT] == [{"prediction": 2 * row["x"], "id": row["id"]} for row in ROWS]


def test_without_a_declared_schema_every_input_column_and_the_prediction(
    bigquery: fake_bigquery.FakeBigQuery, endpoint: Endpoint
) -> None:
    _output_table(bigquery, id=pa.int64(), x=pa.float64(), noise=pa.int64(), prediction=pa.float64())
    _run(endpoint, None)
    assert bigquery.inserted[OUTPUT] == [row | {"prediction": 2 * row["x"]} for row in ROWS]


def test_v2_outputs_the_table_has_no_column_for_are_left_out(
    bigquery: fake_bigquery.FakeBigQuery, endpoint: Endpoint, capsys: pytest.CaptureFixture[str]
) -> None:
    _output_table(bigquery, id=pa.int64(), prediction=pa.float64())
    _run(endpoint, ["id", "prediction"], protocol="v2")
    assert bigquery.inserted[OUTPUT] == [{"id": row["id"], "prediction": 2 * row["x"]} for row in ROWS]
    assert f"not written: prediction_probability (the table {OUTPUT} declares no such column)" in (
        capsys.readouterr().err
    )


def test_declared_names_match_without_case_and_keep_the_tables_spelling(
    bigquery: fake_bigquery.FakeBigQuery, endpoint: Endpoint
) -> None:
    _output_table(bigquery, Prediction=pa.float64(), ID=pa.int64())
    _run(endpoint, ["Prediction", "ID!"])
    assert bigquery.inserted[OUTPUT] == [{"Prediction": 2 * row["x"], "ID": row["id"]} for row in ROWS]


def test_v2_outputs_match_their_declared_columns_without_case(
    bigquery: fake_bigquery.FakeBigQuery, endpoint: Endpoint
) -> None:
    _output_table(bigquery, Id=pa.int64(), PREDICTION=pa.float64(), Prediction_Probability=pa.float64())
    _run(endpoint, ["Id", "PREDICTION", "Prediction_Probability"], protocol="v2")
    assert bigquery.inserted[OUTPUT] == [
        {"Id": row["id"], "PREDICTION": 2 * row["x"], "Prediction_Probability": 0.5} for row in ROWS
    ]


def test_a_nullable_column_nothing_fills_is_left_out_of_the_rows(
    bigquery: fake_bigquery.FakeBigQuery, endpoint: Endpoint, capsys: pytest.CaptureFixture[str]
) -> None:
    _output_table(bigquery, id=pa.int64(), prediction=pa.float64(), scored_at=pa.timestamp("us", tz="UTC"))
    _run(endpoint, ["id!", "prediction", "scored_at"])
    assert bigquery.inserted[OUTPUT] == [{"id": row["id"], "prediction": 2 * row["x"]} for row in ROWS]
    assert f"left null: scored_at (neither an input column nor a prediction; the table {OUTPUT} " in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("columns", "protocol", "message", "scored"),
    [
        (
            ["id", "prediction", "segment!"],
            "v1",
            f"table ({OUTPUT}): declares REQUIRED column 'segment', which is neither a column of the "
            f"input bq://{INPUT} (it has id, x, noise) nor a prediction: remove it from the table's "
            "schema, make it NULLABLE, or add it to the input",
            0,
        ),
        (
            ["id", "prediction", "prediction_margin"],
            "v1",
            f"table ({OUTPUT}): declares column 'prediction_margin', which a KServe v1 endpoint never "
            "fills (it returns one prediction per row, written to 'prediction'): remove it from the "
            "table's schema, or serve the model over the v2 protocol",
            0,
        ),
        (
            ["id", "score"],
            "v1",
            f"table ({OUTPUT}): declares no column 'prediction' for the predictions (its columns: id, "
            "score): add 'prediction' to its schema",
            0,
        ),
        (
            ["id", "prediction", "prediction_margin"],
            "v2",
            f"table ({OUTPUT}): declares column 'prediction_margin', but the endpoint returned no such "
            "output (its predictions: prediction, prediction_probability)",
            3,
        ),
    ],
)
def test_a_declared_column_nothing_fills_fails_naming_it(
    bigquery: fake_bigquery.FakeBigQuery,
    endpoint: Endpoint,
    capsys: pytest.CaptureFixture[str],
    columns: list[str],
    protocol: str,
    message: str,
    scored: int,
) -> None:
    _output_table(bigquery, **{c.rstrip("!"): pa.float64() for c in columns})
    with pytest.raises(SystemExit) as exit_info:
        _run(endpoint, columns, protocol)
    assert exit_info.value.code == 1
    assert capsys.readouterr().err == f"mlopsctl-stage batch-predict: {message}\n"
    assert endpoint.calls == scored  # a column nothing can fill fails before any row is scored
    assert OUTPUT not in bigquery.inserted and OUTPUT not in bigquery.insert_ids
