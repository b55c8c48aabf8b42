"""TFRecord files of ``tf.Example`` records, read without TensorFlow.

The files are built here byte by byte (protobuf wire format and TFRecord framing written by hand), so
the reader is checked against bytes it did not produce.
"""

from __future__ import annotations

import gzip
import json
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import google_crc32c
import pyarrow as pa
import pytest

from mlopsctl_stage import storage
from mlopsctl_stage.cli import main
from mlopsctl_stage.errors import StageError
from mlopsctl_stage.storage import tfrecord
from mlopsctl_stage.tables import read_examples


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64s take ten bytes, as two's complement
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


Value = Sequence[int | float | bytes] | str | None
KIND_FIELDS = {"bytes": 1, "float": 2, "int64": 3}


def _feature(values: Value, packed: bool = True) -> bytes:
    """A ``Feature``: bytes lists are field 1, float lists 2, int lists 3 (each list's values its field 1);
    None sets no kind, a kind's name is an empty list of that kind."""
    if values is None:
        return b""
    if isinstance(values, str):
        return _field(KIND_FIELDS[values], b"")
    blobs = [v for v in values if isinstance(v, bytes)]
    floats = [v for v in values if isinstance(v, float)]
    if blobs:
        return _field(1, b"".join(_field(1, v) for v in blobs))
    if floats and packed:
        return _field(2, _field(1, b"".join(struct.pack("<f", v) for v in floats)))
    if floats:
        return _field(2, b"".join(_varint(1 << 3 | 5) + struct.pack("<f", v) for v in floats))
    return _field(3, _field(1, b"".join(_varint(v) for v in values if isinstance(v, int))))


def _example(features: dict[str, Value], packed: bool = True) -> bytes:
    entries = b"".join(
        _field(1, _field(1, name.encode()) + _field(2, _feature(values, packed)))
        for name, values in features.items()
    )
    return _field(1, entries)


def _masked(data: bytes) -> int:
    crc = int(google_crc32c.value(data))
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) % (1 << 32)


def _frame(record: bytes) -> bytes:
    length = struct.pack("<Q", len(record))
    return length + struct.pack("<I", _masked(length)) + record + struct.pack("<I", _masked(record))


def _file(*records: bytes) -> bytes:
    return b"".join(_frame(r) for r in records)


MIXED: list[dict[str, Value]] = [
    {"id": [1], "score": [0.5], "city": [b"Lyon"], "tags": [b"a", b"b"], "raw": [b"\xff"], "ns": [1, 2]},
    {"id": [2], "score": [1.25], "tags": "bytes", "raw": [b"ok"], "ns": [-3]},
    {
        "id": [-7],
        "score": [2.0],
        "city": ["Zürich".encode()],
        "tags": [b"c"],
        "raw": [b"\x00\x80"],
        "ns": "int64",
    },
]


def test_mixed_scalar_and_list_features() -> None:
    table = tfrecord.read(_file(*(_example(r) for r in MIXED)), "gs://b/x.tfrecord")
    assert table.schema == pa.schema(
        [
            ("city", pa.string()),
            ("id", pa.int64()),
            ("ns", pa.list_(pa.int64())),
            ("raw", pa.binary()),
            ("score", pa.float64()),
            ("tags", pa.list_(pa.string())),
        ]
    )
    assert table.to_pylist() == [
        {"city": "Lyon", "id": 1, "ns": [1, 2], "raw": b"\xff", "score": 0.5, "tags": ["a", "b"]},
        {"city": None, "id": 2, "ns": [-3], "raw": b"ok", "score": 1.25, "tags": []},
        {"city": "Zürich", "id": -7, "ns": [], "raw": b"\x00\x80", "score": 2.0, "tags": ["c"]},
    ]


@pytest.mark.parametrize(
    ("records", "column", "expected"),
    [
        ([{"x": [1.5, 2.5]}], pa.array([[1.5, 2.5]], pa.list_(pa.float64())), None),
        ([{"x": [1]}, {"y": [2]}], pa.array([1, None], pa.int64()), None),
        ([{"x": [1]}, {"x": None}], pa.array([[1], []], pa.list_(pa.int64())), None),
        ([{"x": None}, {"x": [b"a"]}], pa.array([[], ["a"]], pa.list_(pa.string())), None),
        (
            [{"x": [1]}, {"x": [b"a"]}],
            None,
            r"feature 'x' holds bytes_list in record 1 but int64_list before",
        ),
    ],
)
def test_feature_kinds_and_shapes(
    records: list[dict[str, Value]], column: pa.Array, expected: str | None
) -> None:
    data = _file(*(_example(r) for r in records))
    if expected:
        with pytest.raises(StageError, match=expected):
            tfrecord.read(data, "x.tfrecord")
        return
    assert tfrecord.read(data, "x.tfrecord").column("x").combine_chunks().equals(column)


@pytest.mark.parametrize(
    "odd",
    [
        b"",  # an empty Example: no features field at all
        _example({"id": [9], "score": [0.75]}, packed=False),  # unpacked floats
        _example({"id": [8]}) + _example({"id": [9]}),  # one record, features merged: the map's last wins
    ],
)
def test_records_not_laid_out_as_tensorflow_writes_read_alike(odd: bytes) -> None:
    """Such files are read record by record; the table is the one the columnar path gives otherwise."""
    canonical = [_example(r) for r in MIXED]
    table = tfrecord.read(_file(*canonical, odd), "x.tfrecord")
    assert table.slice(0, 3).to_pylist() == tfrecord.read(_file(*canonical), "x.tfrecord").to_pylist()
    assert table.num_rows == 4
    last = table.slice(3).to_pylist()[0]
    assert {k: v for k, v in last.items() if v is not None} == (
        {} if not odd else {"id": 9, "score": 0.75} if b"score" in odd else {"id": 9}
    )


def test_unpacked_floats_and_no_records() -> None:
    table = tfrecord.read(_file(_example({"f": [0.25, 4.0]}, packed=False)), "x.tfrecord")
    assert table.column("f").to_pylist() == [[0.25, 4.0]]
    assert tfrecord.read(b"", "x.tfrecord").num_rows == 0


def test_a_record_whose_length_looks_like_gzip_is_read_as_is() -> None:
    record = _example({"blob": [b"z" * 35_589]})
    data = _file(record)
    assert data[:2] == b"\x1f\x8b"  # 35615 bytes, little-endian
    assert tfrecord.read(data, "x.tfrecord").column("blob").to_pylist() == ["z" * 35_589]


GOOD = _frame(_example({"a": [1]}))
SECOND = _frame(_example({"a": [2]}))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (GOOD + SECOND[:5], r"file \(f\): truncated TFRecord: record 1 has a partial header"),
        (GOOD + SECOND[:-1], r"file \(f\): truncated TFRecord: record 1 ends past the file"),
        (GOOD + SECOND[:8] + b"\x00\x00\x00\x00" + SECOND[12:], r"corrupt TFRecord: record 1's length fails"),
        (GOOD + SECOND[:-5] + b"\x09" + SECOND[-4:], r"file \(f\): corrupt TFRecord: record 1's data fails"),
        (GOOD + _frame(b"\x0a\x05ab"), r"file \(f\): record 1 is no tf.Example"),
        (b"\x1f\x8b" + GOOD, r"file \(f\): not gzip"),
    ],
)
def test_damaged_files_are_one_error(data: bytes, message: str) -> None:
    with pytest.raises(StageError, match=message):
        tfrecord.read(data, "f")


def test_gzip_and_extensions_through_storage(local_root: Path) -> None:
    storage.write_bytes("gs://b/in/0.tfrecord", _file(_example({"a": [0]})))
    storage.write_bytes("gs://b/in/1.tfrecord.gz", gzip.compress(_file(_example({"a": [1]}))))
    storage.write_bytes("gs://b/in/2.tfrec", gzip.compress(_file(_example({"a": [2]}))))  # GZIP option
    storage.write_bytes("gs://b/in/3.tfrecords", _file(_example({"a": [3]}), _example({"a": [4]})))
    assert storage.read_files("gs://b/in/").column("a").to_pylist() == [0, 1, 2, 3, 4]


def _ingest(source: dict[str, Any], out: Path) -> tuple[dict[str, pa.Table], dict[str, Any]]:
    main(["ingest", "--config", json.dumps({"source": source, "label": "y"}), "--examples", str(out)])
    return read_examples(out)


def test_ingest_reads_declared_tfrecord_files(local_root: Path, tmp_path: Path) -> None:
    rows: list[dict[str, Value]] = [
        {"id": [i], "amount": [i / 4], "city": [[b"Lyon", b"Oslo"][i % 2]], "y": [i % 2]} for i in range(100)
    ]
    storage.write_bytes("gs://raw/tf/part-00000", _file(*(_example(r) for r in rows[:60])))
    storage.write_bytes("gs://raw/tf/part-00001", gzip.compress(_file(*(_example(r) for r in rows[60:]))))
    storage.write_bytes("gs://raw/tf/_SUCCESS", b"")
    splits, metadata = _ingest({"gcs": "gs://raw/tf/", "format": "tfrecord"}, tmp_path / "out")
    both = pa.concat_tables([splits["train"], splits["eval"]]).sort_by("id")
    assert both.schema == pa.schema(
        [("amount", pa.float64()), ("city", pa.string()), ("id", pa.int64()), ("y", pa.int64())]
    )
    assert both.to_pylist() == [
        {"amount": i / 4, "city": ["Lyon", "Oslo"][i % 2], "id": i, "y": i % 2} for i in range(100)
    ]
    assert metadata["splits"] == {"train": splits["train"].num_rows, "eval": splits["eval"].num_rows}
    assert 0 < splits["eval"].num_rows < 100


def test_ingest_names_a_corrupt_record(
    local_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    storage.write_bytes("gs://raw/bad/x.tfrecord", GOOD + GOOD[:-1] + b"\x00")
    with pytest.raises(SystemExit) as exited:
        _ingest({"gcs": "gs://raw/bad/"}, tmp_path / "out")
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err == (
        "mlopsctl-stage ingest: file (gs://raw/bad/x.tfrecord): "
        "corrupt TFRecord: record 1's data fails its CRC\n"
    )
