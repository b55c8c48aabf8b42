"""A value that one type of a union takes but whose constraint it breaks gets that error alone: .nan
for a parameter (a string, an integer, a boolean or a finite number) is not a finite number, not also
"must be a string, an integer or true or false"."""

from __future__ import annotations

import pathlib

import pytest
from helpers import OWNED, diagnostics

PARAMETER = (
    OWNED + "pipelines:\n  p:\n    parameters: {lr: VALUE}\n    steps:\n      s: {image: x, command: [a]}\n"
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (".nan", "E205: invalid pipelines.p.parameters.lr: input should be a finite number"),
        (".inf", "E205: invalid pipelines.p.parameters.lr: input should be a finite number"),
        (
            "[1, 2]",
            "E202: pipelines.p.parameters.lr must be a string, an integer, a number or true or false, "
            "not a list",
        ),
    ],
)
def test_one_error_per_value_and_the_one_that_says_what_is_wrong(
    tmp_path: pathlib.Path, value: str, expected: str
) -> None:
    found = [m for m, _ in diagnostics(tmp_path, PARAMETER.replace("VALUE", value)) if " error " in m]
    assert len(found) == 1 and expected in found[0], found


def test_a_mapping_where_a_plain_value_goes_is_one_error_at_its_key(tmp_path: pathlib.Path) -> None:
    """pydantic labels the members of a union of plain types by type name ('str', 'int'): those are no
    keys of mlops.yaml, and the four errors are one."""
    found = [
        m
        for m, _ in diagnostics(tmp_path, PARAMETER.replace("VALUE", "{type: float, default: 0.1}"))
        if " error " in m
    ]
    assert [m.split(" error ", 1)[1] for m in found] == [
        "E202: pipelines.p.parameters.lr must be a string, an integer, a number or true or false, "
        "not a mapping"
    ]
