"""Odd YAML located where it is: nesting deeper than the recursion limit is reported at the
collection that passes the limit (not at 1:1), and an anchor defined twice is an error at the second
definition (not a ruamel.yaml warning with site-packages paths on stderr)."""

from __future__ import annotations

import pathlib
import warnings

import pytest
from helpers import MINIMAL, run, write

from mlopsctl.config.load import MAX_DEPTH, load_bytes


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("a: 1\nb: " + "[" * 20_000 + "]" * 20_000 + "\n", (2, 3 + MAX_DEPTH)),
        ("a: 1\nb:\n  " + "- " * 20_000 + "x\n", (3, 3 + 2 * (MAX_DEPTH - 1))),
    ],
    ids=["flow", "compact-sequences"],
)
def test_nesting_past_the_recursion_limit_is_located(text: str, where: tuple[int, int]) -> None:
    _, diagnostics = load_bytes(text.encode(), "mlops.yaml", pathlib.Path("."))
    [d] = diagnostics
    assert d.code == "E107"
    assert d.position is not None and (d.position.line, d.position.column) == where


@pytest.mark.parametrize("directive", ["", "%YAML 1.2\n---\n"], ids=["libyaml", "pure-parser"])
def test_an_anchor_defined_twice_is_a_located_error(directive: str) -> None:
    text = directive + "a: &x\n  k: v\nb: &x 3\nc: *x\n"
    line = 3 + directive.count("\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the warning ruamel.yaml would print is not raised either
        _, diagnostics = load_bytes(text.encode(), "mlops.yaml", pathlib.Path("."))
    assert [d.to_text() for d in diagnostics] == [
        f"mlops.yaml:{line}:4: error E104: YAML syntax error: anchor '&x' is defined again (first at line "
        f"{line - 2}, column 4): give each anchor its own name\n"
        "  hint: check indentation, quoting and ':' separators near this position"
    ]


def test_the_cli_prints_no_warning_for_a_reused_anchor(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path, MINIMAL + "x-a: &x 1\nx-b: &x 2\n")
    code, _, err = run("validate", config)
    assert code == 1
    assert "Warning" not in err and "site-packages" not in err
    assert f"{config}:" in err and "anchor '&x' is defined again" in err
