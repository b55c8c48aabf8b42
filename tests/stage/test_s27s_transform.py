"""``transform`` on integers past 2**53, on values near the largest float, and onehot columns that
would take the name of another column."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from mlopsctl_stage.cli import main
from mlopsctl_stage.tables import write_examples

BIG = 2**62  # a valid BigQuery INT64, past the integers a float holds exactly


def _transform(root: Path, train: pa.Table, evaluation: pa.Table, config: dict[str, Any]) -> None:
    write_examples(root / "examples", {"train": train, "eval": evaluation}, {"label": "label"})
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
        ]
    )


def _split(root: Path, name: str) -> dict[str, list[Any]]:
    return pq.read_table(root / "out" / f"Split-{name}" / "data.parquet").to_pydict()


def _graph(root: Path) -> dict[str, Any]:
    """transform.json, read as strict JSON (no Infinity or NaN)."""

    def refuse(constant: str) -> None:
        raise AssertionError(f"transform.json holds {constant}")

    graph: dict[str, Any] = json.loads((root / "graph" / "transform.json").read_text(), parse_constant=refuse)
    return graph


@pytest.mark.parametrize("kind", ["standardize", "minmax", "log", "bucketize", None])
def test_integers_past_2_to_the_53(local_root: Path, kind: str | None) -> None:
    train = pa.table({"n": pa.array([BIG + 1, 0, -BIG - 1, None], pa.int64()), "label": [0, 1, 0, 1]})
    evaluation = pa.table({"n": pa.array([BIG + 3, 1], pa.int64()), "label": [1, 0]})
    spec: dict[str, Any] = {"type": kind} if kind else {}
    if kind == "bucketize":
        spec["boundaries"] = [0, 2**61]
    if kind == "log":
        train, evaluation = (t.set_column(0, "n", pc.abs(t.column("n"))) for t in (train, evaluation))
    _transform(local_root, train, evaluation, {"transforms": {"n": spec}} if kind else {})
    got = _split(local_root, "eval")["n"]
    floats = [float(BIG + 3), 1.0]
    expected = {
        None: [(x - 0.0) / (float(BIG) * math.sqrt(2 / 3)) for x in floats],
        "standardize": [(x - 0.0) / (float(BIG) * math.sqrt(2 / 3)) for x in floats],
        "minmax": [(x + float(BIG)) / (2 * float(BIG)) for x in floats],
        "log": [math.log1p(x) for x in floats],
        "bucketize": [2, 1],
    }[kind]
    assert got == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("magnitude", [1e154, 1e200, 1.7e308])
def test_standardize_of_values_near_the_largest_float(local_root: Path, magnitude: float) -> None:
    values = np.array([1.0, -0.5, 0.25, 1.0, -1.0]) * magnitude
    train = pa.table({"x": values, "label": [0, 1, 0, 1, 0]})
    evaluation = pa.table({"x": [magnitude, -magnitude], "label": [1, 0]})
    _transform(local_root, train, evaluation, {})
    unit = values / magnitude
    mean, std = unit.mean(), unit.std()
    params = _graph(local_root)["features"]["x"]
    assert params["mean"] == pytest.approx(mean * magnitude, rel=1e-12)
    assert params["std"] == pytest.approx(std * magnitude, rel=1e-12)
    assert _split(local_root, "train")["x"] == pytest.approx(list((unit - mean) / std), rel=1e-12)
    assert _split(local_root, "eval")["x"] == pytest.approx([(1 - mean) / std, (-1 - mean) / std], rel=1e-12)


def test_standardize_and_minmax_where_a_difference_passes_the_largest_float(local_root: Path) -> None:
    values = np.array([1.5e308] * 9 + [-1.5e308])
    train = pa.table({"s": values, "m": values, "label": [0, 1] * 5})
    evaluation = pa.table({"s": [-1.5e308], "m": [1.5e308], "label": [1]})
    _transform(local_root, train, evaluation, {"transforms": {"m": {"type": "minmax"}}})
    unit = values / 1.5e308
    got = _split(local_root, "eval")
    assert got["s"] == pytest.approx([(-1 - unit.mean()) / unit.std()], rel=1e-12)
    assert got["m"] == [1.0]
    assert _split(local_root, "train")["m"] == [1.0] * 9 + [0.0]


@pytest.mark.parametrize(
    ("table", "onehot", "message"),
    [
        (
            {"device": ["ios", "web"], "device_ios": [1.0, 2.0], "label": [0, 1]},
            ["device"],
            "transforms.device: onehot of 'device' makes the column 'device_ios' (value 'ios'), "
            "and the column 'device_ios' has that name",
        ),
        (
            {"kind": ["label", "web"], "kind_label": [0, 1]},
            ["kind"],
            "transforms.kind: onehot of 'kind' makes the column 'kind_label' (value 'label'), "
            "and the label 'kind_label' has that name",
        ),
        (
            {"code": [1, 2], "code_1": [5, 6], "label": [0, 1]},
            ["code"],
            "transforms.code: onehot of 'code' makes the column 'code_1' (value 1), "
            "and the column 'code_1' has that name",
        ),
        (
            {"a": ["b_c", "x"], "a_b": ["c", "y"], "label": [0, 1]},
            ["a", "a_b"],
            "transforms.a_b: onehot of 'a_b' makes the column 'a_b_c' (value 'c'), "
            "and the onehot column 'a_b_c' of 'a' has that name",
        ),
    ],
)
def test_a_onehot_column_never_replaces_another(
    local_root: Path,
    capsys: pytest.CaptureFixture[str],
    table: dict[str, list[Any]],
    onehot: list[str],
    message: str,
) -> None:
    label = "kind_label" if "kind_label" in table else "label"
    examples = pa.table(table)
    write_examples(local_root / "examples", {"train": examples, "eval": examples}, {"label": label})
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "transform",
                "--config",
                json.dumps({"transforms": {name: {"type": "onehot"} for name in onehot}}),
                "--examples",
                str(local_root / "examples"),
                "--transformed",
                str(local_root / "out"),
            ]
        )
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith(f"mlopsctl-stage transform: {message}") and err.count("\n") == 1
    assert not (local_root / "out").exists()


def test_a_dropped_column_leaves_its_name_to_a_onehot_column(local_root: Path) -> None:
    table = pa.table({"device": ["ios", "web"], "device_ios": [1.0, 2.0], "label": [0, 1]})
    config = {"transforms": {"device": {"type": "onehot"}, "device_ios": {"type": "drop"}}}
    _transform(local_root, table, table, config)
    assert _split(local_root, "eval") == {"device_ios": [1, 0], "device_web": [0, 1], "label": [0, 1]}
