"""The ``schema`` stage: a TFMD schema inferred from the train split's statistics."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from google.protobuf import text_format  # type: ignore[import-untyped, unused-ignore]
from tensorflow_metadata.proto.v0 import schema_pb2

from mlopsctl_stage.cli import main
from mlopsctl_stage.tables import write_examples


def _schema(root: Path, train: pa.Table, evaluation: pa.Table | None = None) -> schema_pb2.Schema:
    write_examples(
        root / "examples",
        {"train": train, "eval": train if evaluation is None else evaluation},
        {"label": None},
    )
    main(["statistics", "--examples", str(root / "examples"), "--statistics", str(root / "statistics")])
    main(["schema", "--statistics", str(root / "statistics"), "--schema", str(root / "schema")])
    return text_format.Parse((root / "schema" / "schema.pbtxt").read_text(), schema_pb2.Schema())


def _by_name(features: object) -> dict[str, schema_pb2.Feature]:
    return {f.name: f for f in features}  # type: ignore[attr-defined]


def test_types_presence_and_value_counts(local_root: Path) -> None:
    train = pa.table(
        {
            "age": [30, 40, 50, 60],
            "score": [0.5, None, 0.7, 0.1],
            "flag": [True, False, True, True],
            "tags": [[1], [], [2, 3], [4]],
        }
    )
    features = _by_name(_schema(local_root, train).feature)
    assert list(features) == ["age", "score", "flag", "tags"]
    age, score, flag, tags = features.values()
    assert (age.type, score.type, flag.type, tags.type) == (
        schema_pb2.INT,
        schema_pb2.FLOAT,
        schema_pb2.INT,
        schema_pb2.INT,
    )
    assert (age.presence.min_fraction, age.presence.min_count) == (1.0, 1)
    assert not score.presence.HasField("min_fraction") and score.presence.min_count == 1
    assert (age.value_count.min, age.value_count.max) == (1, 1)
    assert flag.int_domain.is_categorical
    assert not age.HasField("int_domain")
    assert not tags.value_count.HasField("min") and not tags.value_count.HasField("max")


def test_string_domains_for_few_values_from_train_only(local_root: Path) -> None:
    many = [f"id-{i}" for i in range(150)]
    train = pa.table({"color": ["red", "blue", "red"] * 50, "id": many})
    evaluation = pa.table({"color": ["green"] * 3, "id": many[:3]})
    schema = _schema(local_root, train, evaluation)
    features = _by_name(schema.feature)
    assert features["color"].type == schema_pb2.BYTES
    assert features["color"].domain == "color"
    assert [(d.name, list(d.value)) for d in schema.string_domain] == [("color", ["blue", "red"])]
    assert features["id"].type == schema_pb2.BYTES and not features["id"].HasField("domain")


def test_struct_fields_nest_in_struct_domain(local_root: Path) -> None:
    rows = [{"age": 30, "city": "Oslo"}, {"age": 20, "city": "Rome"}]
    schema = _schema(local_root, pa.table({"user": rows, "x": [1.0, 2.0]}))
    features = _by_name(schema.feature)
    assert list(features) == ["user", "x"]
    user = features["user"]
    assert user.type == schema_pb2.STRUCT
    children = _by_name(user.struct_domain.feature)
    assert (children["age"].type, children["city"].type) == (schema_pb2.INT, schema_pb2.BYTES)
    assert children["city"].domain == "user.city"


def _stats_without_train(root: Path) -> Path:
    write_examples(root / "examples", {"eval": pa.table({"x": [1]})}, {"label": None})
    main(["statistics", "--examples", str(root / "examples"), "--statistics", str(root / "statistics")])
    return root / "statistics"


@pytest.mark.parametrize(
    ("prepare", "message"),
    [
        (lambda root: root, "not a statistics artifact: no Split-*/FeatureStats.pb"),
        (_stats_without_train, "--statistics: no train split (found: eval)"),
    ],
)
def test_bad_statistics_fail_with_one_line(
    local_root: Path, capsys: pytest.CaptureFixture[str], prepare: object, message: str
) -> None:
    statistics = prepare(local_root)  # type: ignore[operator]
    with pytest.raises(SystemExit) as exit_info:
        main(["schema", "--statistics", str(statistics), "--schema", str(local_root / "schema")])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("mlopsctl-stage schema: ") and message in err and err.count("\n") == 1
    assert not (local_root / "schema").exists()


def test_corrupt_statistics_fail(local_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (local_root / "stats" / "Split-train").mkdir(parents=True)
    (local_root / "stats" / "Split-train" / "FeatureStats.pb").write_bytes(b"\xff\xff\xff")
    with pytest.raises(SystemExit):
        main(["schema", "--statistics", str(local_root / "stats"), "--schema", str(local_root / "schema")])
    assert "not a binary DatasetFeatureStatisticsList" in capsys.readouterr().err
