from __future__ import annotations

import pathlib

import pytest

from mlopsctl.config.load import MAX_BYTES, MAX_CHARACTER_ERRORS, load_bytes, load_file

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


HINT_RAW = "remove it: the only control characters YAML text may hold are tab, line feed and carriage return"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"a: x\x07y\n", [("1:5", "control character U+0007 in the file", HINT_RAW)]),
        (b"a: ok\nb: 'x\x1b'\n", [("2:6", "control character U+001B in the file", HINT_RAW)]),
        (b"a: 1\r\nb: \x00\x00\n", [("2:4", "control character U+0000 in the file", HINT_RAW)]),
        (b"a: 1\rb: \x7f\n", [("2:4", "control character U+007F in the file", HINT_RAW)]),
        (b"a: x\xc2\x85y\n", [("1:5", "control character U+0085 in the file", HINT_RAW)]),
        (b"a: \xef\xbf\xbe\n", [("1:4", "noncharacter U+FFFE in the file", HINT_RAW)]),
        (
            b"# \xf0\x9f\x98\x80 \x01\nb: \x02\n",
            [
                ("1:5", "control character U+0001 in the file", HINT_RAW),
                ("2:4", "control character U+0002 in the file", HINT_RAW),
            ],
        ),
        (
            b'a: "\\ud800"\n',
            [
                (
                    "1:4",
                    "the string holds a lone surrogate U+D800",
                    "remove the escape sequence: a surrogate is not a character",
                )
            ],
        ),
        (
            b'a: ok\nb: "\\ud83d\\ude00"\n',
            [
                (
                    "2:4",
                    "the string holds a lone surrogate U+D83D",
                    "write the character itself or one escape, \\U0001F600, not a surrogate pair",
                )
            ],
        ),
        (
            b'a: "x\\x07"\n',
            [("1:4", "the string holds a control character U+0007", "remove the escape sequence")],
        ),
        (
            b'a: "\\0"\n',
            [("1:4", "the string holds a control character U+0000", "remove the escape sequence")],
        ),
        (
            b'a: "\\N"\n',
            [("1:4", "the string holds a control character U+0085", "remove the escape sequence")],
        ),
        (
            b'"k\\e": 1\n',
            [("1:1", "the string holds a control character U+001B", "remove the escape sequence")],
        ),
    ],
)
def test_characters_that_are_not_text_are_refused_where_they_are(
    raw: bytes, expected: list[tuple[str, str, str]]
) -> None:
    _, diagnostics = load_bytes(raw, "mlops.yaml", pathlib.Path("."))
    assert [
        (f"{d.position.line}:{d.position.column}" if d.position else "", d.message, d.hint)
        for d in diagnostics
    ] == expected
    assert all(d.code == "E103" for d in diagnostics)


def test_escapes_are_reported_everywhere_and_replaced_so_later_messages_can_be_printed() -> None:
    doc, diagnostics = load_bytes(b'a: "\\ud800"\nb: ["\\x07", ok]\n', "mlops.yaml", pathlib.Path("."))
    assert [(d.position.line, d.position.column) for d in diagnostics if d.position] == [(1, 4), (2, 5)]
    assert doc is not None and doc.data == {"a": "\ufffd", "b": ["\ufffd", "ok"]}


def test_only_the_first_lines_with_control_characters_are_reported() -> None:
    _, diagnostics = load_bytes(b"a: 1\n" + b"\x00\x00\n" * 100, "mlops.yaml", pathlib.Path("."))
    assert len(diagnostics) == MAX_CHARACTER_ERRORS
    assert [d.position.line for d in diagnostics if d.position] == list(range(2, 2 + MAX_CHARACTER_ERRORS))


@pytest.mark.parametrize(
    "text",
    [
        "a: 🚀 \U0001d518\U0001d52b\U0001d526 \u200f\u05e9\u05dc\u05d5\u05dd\u200e\n",
        'a: "\\U0001F600 \\u200f"\n',
        "a: |\n  tab\there\r\n  line\n",
        "\ufeffa: x\u2028y\n",
    ],
)
def test_unicode_text_is_kept(text: str) -> None:
    doc, diagnostics = load_bytes(text.encode("utf-8"), "mlops.yaml", pathlib.Path("."))
    assert diagnostics == [] and doc is not None
    value = doc.data["a"]
    assert "\ufffd" not in value and value.encode("utf-8")


@pytest.mark.parametrize(
    ("text", "data"),
    [
        # YAML 1.2 allows ':' inside a plain scalar of a flow mapping; libyaml (YAML 1.1) refuses it
        ("a: {image: reg/x:1.0, b: c}\n", {"a": {"image": "reg/x:1.0", "b": "c"}}),
        # YAML 1.1 breaks lines at LS/PS; YAML 1.2 keeps them as text
        ("a: x\u2028y\nb: 1\n", {"a": "x\u2028y", "b": 1}),
        ("a: yes\nb: 0o17\nc: 1_000\n", {"a": "yes", "b": 15, "c": 1000}),
        # unless the file asks for YAML 1.1 itself
        ("%YAML 1.1\n---\na: yes\n", {"a": True}),
    ],
)
def test_documents_read_as_yaml_1_2(text: str, data: object) -> None:
    doc, diagnostics = load_bytes(text.encode(), "mlops.yaml", pathlib.Path("."))
    assert not diagnostics and doc is not None
    assert doc.data == data


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 60_000 + "]" * 60_000 + "\n",
        "".join(" " * i + "k:\n" for i in range(1_000)) + " " * 1_000 + "v\n",
        "a:\n" + "- " * 60_000 + "x\n",
    ],
    ids=["flow", "block", "compact-sequences"],
)
def test_deep_nesting_is_an_error_not_a_crash(text: str) -> None:
    """Nesting deeper than the C stack would allow ends in the Python composer, not in a crash."""
    _, diagnostics = load_bytes(text.encode(), "mlops.yaml", pathlib.Path("."))
    assert [d.code for d in diagnostics] == ["E107"]
