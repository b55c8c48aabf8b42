"""Feature values out of logged KServe bodies, by Arrow's JSON reader and by the one-by-one fallback."""

from __future__ import annotations

import json
import math
from typing import Any

import pyarrow as pa
import pytest

from mlopsctl_stage.errors import StageError
from mlopsctl_stage.features import (
    SLICE,
    logged_features,
    sample,
    sampled,
    summarised_features,
    table_features,
)

KINDS = {"amount": "numeric", "country": "categorical"}
POISON = [{"instances": [{"noise": 1}]}, {"instances": [{"noise": "x"}]}]
"""Two requests whose unrelated field Arrow cannot type: the bodies are then read one by one."""


def log(requests: list[Any], responses: list[Any] | None = None) -> pa.Table:
    encode = [None if b is None else b if isinstance(b, str) else json.dumps(b) for b in requests]
    table = {"request": pa.array(encode, pa.string())}
    if responses is not None:
        table["response"] = pa.array([None if b is None else json.dumps(b) for b in responses], pa.string())
    return pa.table(table)


def values(found: dict[str, pa.Array]) -> dict[str, list[Any]]:
    return {name: array.to_pylist() for name, array in found.items()}


V1 = [{"instances": [{"amount": 1.5, "country": "de"}, {"amount": 2, "country": "fr"}]}]
V2 = [
    {
        "inputs": [
            {"name": "amount", "shape": [2, 1], "datatype": "FP32", "data": [[1.5], [2]]},
            {"name": "country", "shape": [2], "datatype": "BYTES", "data": ["de", "fr"]},
        ]
    }
]


@pytest.mark.parametrize("poisoned", [False, True], ids=["arrow", "one-by-one"])
@pytest.mark.parametrize(
    ("requests", "responses", "kinds", "positional", "expected"),
    [
        (V1, None, KINDS, (), {"amount": [1.5, 2.0], "country": ["de", "fr"]}),
        (V2, None, KINDS, (), {"amount": [1.5, 2.0], "country": ["de", "fr"]}),
        # positional instances, named by the baseline's columns; a short instance lacks the later ones
        (
            [{"instances": [[1.5, "de"], [2.0]]}],
            None,
            KINDS,
            ("amount", "country", "label"),
            {"amount": [1.5, 2.0], "country": ["de"]},
        ),
        # outputs: named v1 predictions, v1 scalar predictions ("prediction"), v2 outputs
        (
            V1,
            [{"predictions": [{"score": 0.25}, {"score": 0.75}]}],
            {"score": "numeric"},
            (),
            {"score": [0.25, 0.75]},
        ),
        (V1, [{"predictions": [1, 0]}], {"prediction": "categorical"}, (), {"prediction": ["1", "0"]}),
        (
            V2,
            [{"outputs": [{"name": "score", "data": [0.25, 0.75]}]}],
            {"score": "numeric"},
            (),
            {"score": [0.25, 0.75]},
        ),
        # a name in both the request and the response: the request's input
        (V1, [{"predictions": [{"amount": 99}]}], {"amount": "numeric"}, (), {"amount": [1.5, 2.0]}),
        # a request the model did not answer, and a request with no body
        (
            [*V1, None],
            [{"predictions": [0.5, 0.5]}, None],
            {"prediction": "numeric"},
            (),
            {"prediction": [0.5, 0.5]},
        ),
        # numbers as strings for a numeric feature, numbers and booleans for a categorical one
        (
            [{"instances": [{"amount": "3.5", "country": 94110}, {"amount": 1, "country": True}]}],
            None,
            KINDS,
            (),
            {"amount": [3.5, 1.0], "country": ["94110", "true"]},
        ),
    ],
)
def test_bodies(
    requests: list[Any],
    responses: list[Any] | None,
    kinds: dict[str, str],
    positional: tuple[str, ...],
    expected: dict[str, list[Any]],
    poisoned: bool,
) -> None:
    if poisoned:
        requests = [*requests, *POISON]
        responses = None if responses is None else [*responses, None, None]
    assert values(logged_features(log(requests, responses), kinds, "t", positional)) == expected


def test_pretty_printed_bodies() -> None:
    body = json.dumps(V1[0], indent=2)
    table = log([body, body.replace("\n", "\r\n")])
    assert values(logged_features(table, KINDS, "t")) == {
        "amount": [1.5, 2.0, 1.5, 2.0],
        "country": ["de", "fr", "de", "fr"],
    }


def test_a_category_that_is_a_number_in_some_requests_and_a_string_in_others() -> None:
    table = log(
        [{"instances": [{"amount": 1, "country": 7}]}, {"instances": [{"amount": 2.5, "country": "7"}]}]
    )
    assert values(logged_features(table, KINDS, "t")) == {"amount": [1.0, 2.5], "country": ["7", "7"]}


@pytest.mark.parametrize(
    ("requests", "message"),
    [
        (["not json"], "t: a body is not JSON (Expecting value): not json"),
        (["[1, 2]"], "t: a body is not a JSON object: [1, 2]"),
        ([{"instances": [{"country": "de"}]}], "t: no feature 'amount' in the data"),
        (
            [{"instances": [{"amount": "lots", "country": "de"}]}],
            "t: feature 'amount': numeric, but holds values that are not numbers (string)",
        ),
        (
            [{"instances": [{"amount": {"value": 3}, "country": "de"}]}],
            "t: feature 'amount': holds struct<value: int64> values, not scalars",
        ),
    ],
)
def test_bad_bodies(requests: list[Any], message: str) -> None:
    with pytest.raises(StageError) as error:
        logged_features(log(requests), KINDS, "t")
    assert str(error.value) == message


def test_no_rows_is_not_a_missing_feature() -> None:
    assert values(logged_features(log([]), KINDS, "t")) == {"amount": [], "country": []}


def test_table_features() -> None:
    table = pa.table({"amount": [1, None, 3], "country": [94110, 2, None], "ratio": [0.5, math.nan, 1.0]})
    found = values(
        table_features(table, {"amount": "numeric", "country": "categorical", "ratio": "numeric"}, "t")
    )
    assert found == {"amount": [1.0, None, 3.0], "country": ["94110", "2", None], "ratio": [0.5, None, 1.0]}
    with pytest.raises(StageError, match="t: no feature 'age', 'zip' in the data"):
        table_features(table, {"age": "numeric", "zip": "categorical"}, "t")


def test_sampling_is_deterministic_and_nested() -> None:
    ids = [f"id-{i}" for i in range(2000)]
    table = pa.table({"request_id": ids})
    low = set(sample(table, 0.2)["request_id"].to_pylist())
    high = set(sample(table, 0.5)["request_id"].to_pylist())
    assert low == set(sample(table, 0.2)["request_id"].to_pylist())
    assert low < high  # a lower rate keeps a subset: the request logger's sample, sampled again
    assert 300 < len(low) < 500 and 900 < len(high) < 1100
    assert all(sampled(i, 1.0) for i in ids) and sample(table, 1.0) is table


def test_a_column_of_many_chunks() -> None:
    """As a read stream returns a table: many record batches, some bodies missing."""
    bodies = [json.dumps({"instances": [{"amount": i, "country": "de"}]}) for i in range(10)]
    chunks = [pa.array([*bodies[i : i + 3], None], pa.string()) for i in range(0, 10, 3)]
    table = pa.table({"request": pa.chunked_array(chunks)})
    found = values(logged_features(table, KINDS, "t"))
    assert found == {"amount": [float(i) for i in range(10)], "country": ["de"] * 10}


def test_bodies_a_local_json_lines_table_holds_as_objects() -> None:
    """A JSON-lines table read locally holds the bodies as structs, not as JSON text."""
    responses = [{"outputs": [{"name": "digit", "data": [5]}, {"name": "confidence", "data": [0.98]}]}, None]
    table = pa.table({"request": pa.array([*V1, None]), "response": pa.array(responses)})
    assert pa.types.is_struct(table["request"].type)
    found = logged_features(table, {**KINDS, "digit": "categorical", "confidence": "numeric"}, "t")
    assert values(found) == {
        "amount": [1.5, 2.0],
        "country": ["de", "fr"],
        "digit": ["5"],
        "confidence": [0.98],
    }


@pytest.mark.parametrize("poisoned", [False, True], ids=["arrow", "last-slice-one-by-one"])
def test_a_column_of_several_slices(poisoned: bool) -> None:
    """Bodies over more than two slices are parsed side by side, and come out in their order; a slice
    that Arrow refuses is read one by one."""
    padding = "x" * 200
    count = 3 * SLICE // 250
    bodies = [json.dumps({"instances": [{"amount": i, "country": padding}]}) for i in range(count)]
    poison = [json.dumps(b) for b in POISON] if poisoned else []
    found = logged_features(pa.table({"request": pa.array(bodies + poison)}), {"amount": "numeric"}, "t")
    assert found["amount"].num_chunks >= 3
    assert found["amount"].to_pylist() == [float(i) for i in range(count)]


def test_a_body_longer_than_a_slice() -> None:
    many = {"instances": [{"amount": i, "country": "de"} for i in range(SLICE // 20)]}
    found = logged_features(log([many, V1[0]]), KINDS, "t")
    assert len(found["amount"]) == SLICE // 20 + 2
    assert found["country"].to_pylist()[-2:] == ["de", "fr"]


def test_features_summarised_slice_by_slice() -> None:
    """Each slice's values, typed as their kind, are summarised (here: their count and sum); none is
    kept. A feature found in no body is an error, as for the values themselves."""
    count = 3 * SLICE // 100
    bodies = [
        json.dumps({"instances": [{"amount": i, "country": "de", "pad": "x" * 60}]}) for i in range(count)
    ]
    table = pa.table({"request": pa.array(bodies)})
    found = summarised_features(table, KINDS, "t", lambda name, values: (name, str(values.type), len(values)))
    assert set(found) == {"amount", "country"} and len(found["amount"]) >= 3
    assert {(n, t) for n, t, _ in found["amount"] + found["country"]} == {
        ("amount", "double"),
        ("country", "string"),
    }
    assert sum(size for *_, size in found["amount"]) == count
    with pytest.raises(StageError, match="t: no feature 'age' in the data"):
        summarised_features(table, {"age": "numeric"}, "t", lambda name, values: len(values))
