"""The ``validate`` stage: anomalies of each split's statistics against a schema."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from tensorflow_metadata.proto.v0 import anomalies_pb2

from mlopsctl_stage.cli import main
from mlopsctl_stage.tables import write_examples

Info = anomalies_pb2.AnomalyInfo

TRAIN = pa.table(
    {
        "age": [30, 40, 50, 60],
        "color": ["red", "blue", "red", "blue"],
        "score": [0.1, 0.2, 0.3, 0.4],
        "user": [{"city": "Oslo"}, {"city": "Rome"}, {"city": "Oslo"}, {"city": "Rome"}],
        "tags": [[1], [2], [3], [4]],
    }
)
DRIFTED = pa.table(
    {
        "age": ["30", "40", "50", "60"],
        "color": ["red", "green", "green", "blue"],
        "score": [0.1, None, 0.3, 0.4],
        "user": [{"city": "Oslo"}, {"city": "Paris"}, {"city": "Oslo"}, {"city": "Rome"}],
        "tags": [[1, 2], [2], [3], [4]],
        "extra": [1, 2, 3, 4],
    }
)


def _artifacts(root: Path, train: pa.Table, evaluation: pa.Table) -> tuple[Path, Path]:
    """Statistics of ``train`` and ``evaluation``, and the schema inferred from ``train``."""
    write_examples(root / "examples", {"train": train, "eval": evaluation}, {"label": None})
    main(["statistics", "--examples", str(root / "examples"), "--statistics", str(root / "statistics")])
    main(["schema", "--statistics", str(root / "statistics"), "--schema", str(root / "schema")])
    return root / "statistics", root / "schema"


def _validate(root: Path, statistics: Path, schema: Path | str) -> dict[str, anomalies_pb2.Anomalies]:
    main(
        [
            "validate",
            "--statistics",
            str(statistics),
            "--schema",
            str(schema),
            "--anomalies",
            str(root / "anomalies"),
            "--anomaly-count",
            str(root / "count"),
            "--passed",
            str(root / "passed"),
        ]
    )
    found = {}
    for split in ("train", "eval"):
        anomalies = anomalies_pb2.Anomalies()
        anomalies.ParseFromString((root / "anomalies" / f"Split-{split}" / "SchemaDiff.pb").read_bytes())
        found[split] = anomalies
    return found


def test_clean_data_passes(local_root: Path) -> None:
    statistics, schema = _artifacts(local_root, TRAIN, TRAIN.slice(0, 2))
    anomalies = _validate(local_root, statistics, schema / "schema.pbtxt")
    assert {split: dict(a.anomaly_info) for split, a in anomalies.items()} == {"train": {}, "eval": {}}
    assert anomalies["eval"].baseline.feature[0].name == "age"
    assert json.loads((local_root / "count").read_text()) == 0
    assert (local_root / "passed").read_text() == "true"


def test_drifted_split_reports_each_anomaly(local_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    statistics, schema = _artifacts(local_root, TRAIN, DRIFTED)
    anomalies = _validate(local_root, statistics, schema)
    assert not anomalies["train"].anomaly_info
    found = anomalies["eval"]
    assert found.anomaly_name_format == anomalies_pb2.Anomalies.SERIALIZED_PATH
    reasons = {key: [r.type for r in info.reason] for key, info in found.anomaly_info.items()}
    assert reasons == {
        "age": [Info.UNEXPECTED_DATA_TYPE],
        "color": [Info.ENUM_TYPE_UNEXPECTED_STRING_VALUES],
        "score": [Info.FEATURE_TYPE_LOW_FRACTION_PRESENT],
        "user.city": [Info.ENUM_TYPE_UNEXPECTED_STRING_VALUES],
        "tags": [Info.FEATURE_TYPE_HIGH_NUMBER_VALUES],
        "extra": [Info.SCHEMA_NEW_COLUMN],
    }
    color = found.anomaly_info["color"]
    assert color.severity == Info.ERROR
    assert color.short_description == "Unexpected string values"
    assert "green" in color.description and "~50.0%" in color.description
    assert list(found.anomaly_info["user.city"].path.step) == ["user", "city"]
    assert "Expected data of type INT, got BYTES" in found.anomaly_info["age"].description
    assert "minimum fraction 1, actual 0.75" in found.anomaly_info["score"].description
    assert json.loads((local_root / "count").read_text()) == 6
    assert (local_root / "passed").read_text() == "false"
    assert "eval: color: Unexpected string values" in capsys.readouterr().err


def test_missing_columns_and_structs(local_root: Path) -> None:
    statistics, schema = _artifacts(local_root, TRAIN, TRAIN.drop_columns(["score", "user"]))
    found = _validate(local_root, statistics, schema)["eval"]
    assert {key: [r.type for r in info.reason] for key, info in found.anomaly_info.items()} == {
        "score": [Info.SCHEMA_MISSING_COLUMN],
        "user": [Info.SCHEMA_MISSING_COLUMN],
    }


def test_several_reasons_on_one_feature(local_root: Path) -> None:
    evaluation = pa.table(
        {**{n: TRAIN.column(n) for n in TRAIN.column_names}, "color": ["red", None, "pink", "red"]}
    )
    statistics, schema = _artifacts(local_root, TRAIN, evaluation)
    info = _validate(local_root, statistics, schema)["eval"].anomaly_info["color"]
    assert info.short_description == "Multiple errors"
    assert [r.type for r in info.reason] == [
        Info.FEATURE_TYPE_LOW_FRACTION_PRESENT,
        Info.ENUM_TYPE_UNEXPECTED_STRING_VALUES,
    ]


def test_empty_split_is_data_missing(local_root: Path) -> None:
    statistics, schema = _artifacts(local_root, TRAIN, TRAIN.slice(0, 0))
    found = _validate(local_root, statistics, schema)["eval"]
    assert found.data_missing
    assert (local_root / "passed").read_text() == "false"


@pytest.mark.parametrize(
    ("schema_text", "message"),
    [
        (None, "not a schema artifact: no schema.pbtxt"),
        ("feature { nme: 'x' }", "not a text Schema"),
    ],
)
def test_bad_schema_fails_with_one_line(
    local_root: Path, capsys: pytest.CaptureFixture[str], schema_text: str | None, message: str
) -> None:
    statistics, _ = _artifacts(local_root, TRAIN, TRAIN)
    bad = local_root / "bad-schema"
    bad.mkdir()
    if schema_text is not None:
        (bad / "schema.pbtxt").write_text(schema_text)
    with pytest.raises(SystemExit) as exit_info:
        _validate(local_root, statistics, bad)
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("mlopsctl-stage validate: ") and message in err and err.count("\n") == 1
    assert not (local_root / "anomalies").exists() and not (local_root / "passed").exists()
