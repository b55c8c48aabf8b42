"""``ingest``: a file whose header names a column twice, and JSON lines holding numbers past what
Arrow reads, fail naming the file (and the column); integers past 64 bits are read as floats."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlopsctl_stage import storage
from mlopsctl_stage.cli import main
from mlopsctl_stage.tables import read_examples

GOOD_CSV = b"id,amount,city\n" + b"".join(f"{i},{i * 1.5},oslo\n".encode() for i in range(20))


def _ingest(out: Path, **source: Any) -> None:
    main(
        [
            "ingest",
            "--config",
            json.dumps({"source": {"gcs": "gs://raw/in/", **source}}),
            "--examples",
            str(out),
        ]
    )


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"a.csv": GOOD_CSV, "b.csv": b"id,amount,id\n1,2.5,3\n"},
            "file (gs://raw/in/b.csv): has two columns named 'id': rename one in its header",
        ),
        (
            {"only.csv": b"id,city,city\n1,oslo,rome\n2,lima,rome\n"},
            "file (gs://raw/in/only.csv): has two columns named 'city'",
        ),
        (
            {"x.jsonl": b'{"n":18446744073709551615,"m":1e400}\n'},
            "file (gs://raw/in/x.jsonl): unreadable as jsonl: line 1: 'm' holds 1e400, "
            "past the largest float (about 1.8e308)",
        ),
        (
            {"x.jsonl": b'{"n":1,"m":{"deep":[1,"a"]}}\n{"n":2,"m":{"deep":[2e999]}}\n'},
            "file (gs://raw/in/x.jsonl): unreadable as jsonl: line 2: 'm' holds 2e999, past the largest",
        ),
    ],
)
def test_bad_files_fail_naming_the_file(
    local_root: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    files: dict[str, bytes],
    message: str,
) -> None:
    for name, data in files.items():
        storage.write_bytes(f"gs://raw/in/{name}", data)
    with pytest.raises(SystemExit) as exited:
        _ingest(tmp_path / "out")
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith(f"mlopsctl-stage ingest: {message}") and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_integers_past_64_bits_are_read_as_floats_where_arrow_cannot_type_the_lines(
    local_root: Path, tmp_path: Path
) -> None:
    """Lines Arrow refuses (a list of numbers and strings) are read one by one: an integer past 64 bits
    there is a float, as Arrow's own reader takes it."""
    lines = [
        {"n": 18446744073709551615, "tags": [1, "a"]},
        {"n": -(2**63), "tags": [2]},
        {"n": 7, "tags": None},
    ] * 10
    storage.write_bytes("gs://raw/in/x.jsonl", "".join(json.dumps(line) + "\n" for line in lines).encode())
    _ingest(tmp_path / "out")
    splits, _ = read_examples(tmp_path / "out")
    values = sorted(v for table in splits.values() for v in table.column("n").to_pylist())
    assert values == sorted([float(2**64 - 1), float(-(2**63)), 7.0] * 10)
