from __future__ import annotations

import pathlib

import pytest

from mlopsctl.config.load import MAX_BYTES, load_bytes, load_file

BILLION_LAUGHS = (
    "\n".join(
        ["a: &a [x, x, x, x, x, x, x, x, x]"]
        + [f"{n}: &{n} [{', '.join(['*' + p] * 9)}]" for p, n in zip("abcdefg", "bcdefgh", strict=True)]
    )
    + "\n"
)


@pytest.mark.parametrize(
    ("raw", "code", "line", "column", "fragment"),
    [
        (b"a: 1\na: 2\n", "E106", 2, 1, "duplicate key 'a' (first defined at line 1)"),
        (b"x:\n  b: 1\n  c: 2\n  b: 3\n", "E106", 4, 3, "duplicate key 'b'"),
        (b"1: one\n", "E108", 1, 1, "mapping key '1' is not a string"),
        (b"? [a, b]\n: v\n", "E108", 1, 3, "collection"),
        (b"a:\n\tb: 1\n", "E105", 2, 1, "tab character"),
        (b"a: ok\nb: \xff\n", "E103", 2, 4, "invalid UTF-8"),
        (b"a: [1, 2\nb: 3\n", "E104", 2, 2, "YAML syntax error"),
        (b"- a\n- b\n", "E109", 1, 1, "must be a mapping"),
        (b"", "E109", 1, 1, "must be a mapping"),
        (b"a: 1\n---\nb: 2\n", "E110", 3, 1, "more than one YAML document"),
        (BILLION_LAUGHS.encode(), "E107", None, None, "too many nodes"),
        (b"a: &r\n  b: *r\n", "E107", None, None, "refers to itself"),
    ],
)
def test_bad_yaml_is_reported_with_position(
    raw: bytes, code: str, line: int | None, column: int | None, fragment: str
) -> None:
    doc, diagnostics = load_bytes(raw, "mlops.yaml", pathlib.Path("."))
    assert diagnostics, "expected a diagnostic"
    first = diagnostics[0]
    assert first.code == code
    assert fragment in first.message
    assert first.position is not None and first.position.file == "mlops.yaml"
    if line is not None:
        assert (first.position.line, first.position.column) == (line, column)
    if code != "E106" and code != "E108":
        assert doc is None


def test_every_duplicate_is_reported_not_only_the_first() -> None:
    _, diagnostics = load_bytes(b"a: 1\na: 2\nb: 1\nb: 2\n", "f.yaml", pathlib.Path("."))
    assert [(d.code, d.position.line if d.position else 0) for d in diagnostics] == [("E106", 2), ("E106", 4)]


def test_positions_of_keys_and_values() -> None:
    doc, diagnostics = load_bytes(b"top:\n  inner: [10, 20]\n", "f.yaml", pathlib.Path("."))
    assert doc is not None and not diagnostics
    assert doc.data == {"top": {"inner": [10, 20]}}
    assert doc.sources.keys[("top", "inner")].line == 2
    value = doc.sources.values[("top", "inner", 1)]
    assert (value.line, value.column) == (2, 15)


def test_merge_keys_apply_with_explicit_keys_winning() -> None:
    doc, _ = load_bytes(b"base: &b {x: 1, y: 2}\nuse: {<<: *b, y: 3}\n", "f.yaml", pathlib.Path("."))
    assert doc is not None
    assert doc.data["use"] == {"x": 1, "y": 3}


def test_yaml_1_2_booleans_and_dates_stay_strings() -> None:
    doc, _ = load_bytes(b"a: yes\nb: 2024-01-01\nc: true\n", "f.yaml", pathlib.Path("."))
    assert doc is not None
    assert doc.data == {"a": "yes", "b": "2024-01-01", "c": True}


def test_missing_and_oversized_files(tmp_path: pathlib.Path) -> None:
    _, missing = load_file(tmp_path / "absent.yaml")
    assert [d.code for d in missing] == ["E101"]
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: " + b"x" * MAX_BYTES + b"\n")
    _, too_big = load_file(big)
    assert [d.code for d in too_big] == ["E102"]


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"a: !custom demo\n", "unsupported YAML tag '!custom' on a scalar"),
        (b"a: !!python/object:os.system x\n", "unsupported YAML tag '!!python/object:os.system'"),
        (b"a: !!map demo\n", "unsupported YAML tag '!!map' on a scalar"),
        (b"a: !!seq {b: 1}\n", "unsupported YAML tag '!!seq' on a mapping"),
        (b"!custom k: 1\n", "unsupported YAML tag '!custom'"),
        (b"a: {<<: !custom {b: 1}}\n", "unsupported YAML tag '!custom' on a mapping"),
        (b"a: !!int abc\n", "'abc' is not a valid !!int value"),
        (b"a: !!bool maybe\n", "'maybe' is not a valid !!bool value"),
        (b"a: !!float x\n", "'x' is not a valid !!float value"),
    ],
)
def test_tags_outside_the_core_schema_are_refused(raw: bytes, fragment: str) -> None:
    doc, diagnostics = load_bytes(raw, "mlops.yaml", pathlib.Path("."))
    assert doc is None and [d.code for d in diagnostics] == ["E111"]
    assert fragment in diagnostics[0].message and diagnostics[0].position is not None


def test_core_tags_are_read() -> None:
    doc, diagnostics = load_bytes(b"a: !!str 5\nb: !!int '7'\nc: !!float 1\n", "f.yaml", pathlib.Path("."))
    assert doc is not None and not diagnostics
    assert doc.data == {"a": "5", "b": 7, "c": 1.0}
