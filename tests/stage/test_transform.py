"""The ``transform`` stage: transforms fitted on the train split, applied to every split."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlopsctl_stage.cli import main
from mlopsctl_stage.tables import write_examples

TRAIN = pa.table(
    {
        "age": [20, 30, 40, None],
        "income": [0.0, 9.0, 99.0, 999.0],
        "city": ["Oslo", "Rome", "Oslo", None],
        "member": [True, False, True, None],
        "label": [0, 1, 1, 0],
    }
)
EVAL = pa.table(
    {
        "age": [50, 10],
        "income": [1.0, None],
        "city": ["Paris", "Rome"],
        "member": [False, True],
        "label": [1, 0],
    }
)


def _transform(
    root: Path, config: dict[str, Any], *extra: str
) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    write_examples(root / "examples", {"train": TRAIN, "eval": EVAL}, {"label": "label", "source": "test"})
    main(
        [
            "transform",
            "--config",
            json.dumps(config),
            "--examples",
            str(root / "examples"),
            "--transformed",
            str(root / "out"),
            "--transform-graph",
            str(root / "graph"),
            *extra,
        ]
    )
    train = pq.read_table(root / "out" / "Split-train" / "data.parquet").to_pydict()
    evaluation = pq.read_table(root / "out" / "Split-eval" / "data.parquet").to_pydict()
    return train, evaluation


def test_defaults_standardize_numbers_encode_strings_and_booleans(local_root: Path) -> None:
    train, evaluation = _transform(local_root, {})
    assert list(train) == ["age", "income", "city", "member", "label"]
    std = math.sqrt(((20 - 30) ** 2 + 0 + (40 - 30) ** 2) / 3)
    assert train["age"] == pytest.approx([-10 / std, 0.0, 10 / std, None], nan_ok=True)
    assert evaluation["age"] == pytest.approx([20 / std, -20 / std])  # fitted on train only
    assert train["city"] == [0, 1, 0, -1] and evaluation["city"] == [-1, 1]
    assert train["member"] == [1, 0, 1, None] and evaluation["member"] == [0, 1]
    assert train["label"] == [0, 1, 1, 0] and evaluation["label"] == [1, 0]

    graph = json.loads((local_root / "graph" / "transform.json").read_text())
    assert graph["label"] == "label" and graph["dropped"] == []
    assert graph["features"]["age"] == {
        "source": "age",
        "type": "standardize",
        "mean": 30.0,
        "std": pytest.approx(std),
    }
    assert graph["features"]["city"] == {
        "source": "city",
        "type": "vocabulary",
        "vocabulary": ["Oslo", "Rome"],
    }
    assert graph["features"]["member"] == {"source": "member", "type": "boolean"}
    assert "label" not in graph["features"]
    metadata = json.loads((local_root / "out" / "metadata.json").read_text())
    assert metadata["label"] == "label" and metadata["source"] == "test"
    assert metadata["transform"] == {
        "age": "standardize",
        "income": "standardize",
        "city": "vocabulary",
        "member": "boolean",
    }
    assert metadata["splits"] == {"train": 4, "eval": 2}


@pytest.mark.parametrize(
    ("feature", "spec", "train_values", "eval_values"),
    [
        ("income", {"type": "minmax"}, [0.0, 9 / 999, 99 / 999, 1.0], [1 / 999, None]),
        ("income", {"type": "log"}, [0.0, math.log(10), math.log(100), math.log(1000)], [math.log(2), None]),
        ("age", {"type": "bucketize", "boundaries": [25, 40]}, [0, 1, 2, None], [2, 0]),
        ("age", {"type": "fill", "value": 0}, [20, 30, 40, 0], [50, 10]),
        (
            "city",
            {"type": "fill", "value": "unknown"},
            ["Oslo", "Rome", "Oslo", "unknown"],
            ["Paris", "Rome"],
        ),
        ("age", {"type": "vocabulary"}, [0, 1, 2, -1], [-1, -1]),
        ("age", {"type": "passthrough"}, [20, 30, 40, None], [50, 10]),
    ],
)
def test_declared_transforms(
    local_root: Path, feature: str, spec: dict[str, Any], train_values: list[Any], eval_values: list[Any]
) -> None:
    train, evaluation = _transform(local_root, {"transforms": {feature: spec}})
    assert _close(train[feature], train_values) and _close(evaluation[feature], eval_values)
    if feature != "city":  # the features the config does not name keep their defaults
        assert train["city"] == [0, 1, 0, -1]


def _close(got: list[Any], expected: list[Any]) -> bool:
    return len(got) == len(expected) and all(
        g == e if not isinstance(e, float) else g == pytest.approx(e)
        for g, e in zip(got, expected, strict=True)
    )


def test_onehot_and_drop(local_root: Path) -> None:
    train, evaluation = _transform(
        local_root, {"transforms": {"city": {"type": "onehot"}, "age": {"type": "drop"}}}
    )
    assert list(train) == ["income", "city_Oslo", "city_Rome", "member", "label"]
    assert (train["city_Oslo"], train["city_Rome"]) == ([1, 0, 1, 0], [0, 1, 0, 0])
    assert (evaluation["city_Oslo"], evaluation["city_Rome"]) == ([0, 0], [0, 1])
    graph = json.loads((local_root / "graph" / "transform.json").read_text())
    assert graph["features"]["city_Rome"] == {"source": "city", "type": "onehot", "value": "Rome"}
    assert graph["dropped"] == ["age"]


def test_config_label_wins_over_the_examples_label(local_root: Path) -> None:
    train, _ = _transform(local_root, {"label": "age"})
    assert train["age"] == [20, 30, 40, None]
    assert train["label"] == pytest.approx([-1.0, 1.0, 1.0, -1.0])  # now a feature, standardized
    assert json.loads((local_root / "graph" / "transform.json").read_text())["label"] == "age"


def test_schema_marks_categorical_ints(local_root: Path) -> None:
    schema = local_root / "schema"
    schema.mkdir()
    (schema / "schema.pbtxt").write_text(
        'feature { name: "age" type: INT int_domain { is_categorical: true } }'
    )
    train, _ = _transform(local_root, {}, "--schema", str(schema))
    assert train["age"] == [0, 1, 2, -1]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"transforms": {"age": {"type": "scale"}}},
            "transforms.age.type: must be one of standardize, minmax",
        ),
        (
            {"transforms": {"city": {"type": "standardize"}}},
            "standardize needs a numeric feature, and 'city' is string",
        ),
        (
            {"transforms": {"age": {"type": "bucketize"}}},
            "transforms.age.boundaries: bucketize needs a list of numbers",
        ),
        ({"transforms": {"age": {"type": "bucketize", "boundaries": [5, 1]}}}, "must be in increasing order"),
        ({"transforms": {"age": {"type": "fill"}}}, "transforms.age.value: fill needs the value"),
        (
            {"transforms": {"age": {"type": "fill", "value": "x"}}},
            "transforms.age.value: 'x' is not of type int64",
        ),
        ({"transforms": {"age": {"type": "log", "value": 1}}}, "transforms.age.value: not a setting of log"),
        ({"transforms": {"label": {"type": "log"}}}, "transforms.label: is the label"),
        ({"transforms": {"height": {"type": "log"}}}, "transforms.height: not a column of the train split"),
        ({"transforms": ["age"]}, "transforms: must be an object"),
    ],
)
def test_bad_transforms_fail_with_one_line(
    local_root: Path, capsys: pytest.CaptureFixture[str], config: dict[str, Any], message: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _transform(local_root, config)
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("mlopsctl-stage transform: ") and message in err and err.count("\n") == 1
    assert not (local_root / "out").exists() and not (local_root / "graph").exists()


def test_log_refuses_values_at_or_below_minus_one(
    local_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_examples(local_root / "ex", {"train": pa.table({"x": [0.0, -1.0]})}, {"label": None})
    config = json.dumps({"transforms": {"x": {"type": "log"}}})
    with pytest.raises(SystemExit):
        main(
            [
                "transform",
                "--config",
                config,
                "--examples",
                str(local_root / "ex"),
                "--transformed",
                str(local_root / "o"),
            ]
        )
    assert "transforms.x: log takes values > -1 (it is ln(1 + x)), not -1.0" in capsys.readouterr().err
