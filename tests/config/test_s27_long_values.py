"""A value of thousands of characters is quoted cut short in its error, with its length, and an
integer of more digits than Python reads is an error that says so, with a hint that fits."""

from __future__ import annotations

import pathlib

from helpers import OWNED, diagnostics

PARAMETER = (
    OWNED + "pipelines:\n  p:\n    parameters: {n: VALUE}\n    steps:\n      s: {image: x, command: [a]}\n"
)


def test_an_integer_of_too_many_digits_says_so_and_to_quote_it(tmp_path: pathlib.Path) -> None:
    [(message, hint)] = diagnostics(tmp_path, PARAMETER.replace("VALUE", "7" * 5000))
    assert message.endswith(
        f"E111: {'7' * 80!r}... (5000 characters) is not a valid !!int value: its 5000 digits are more "
        "than a number may have"
    )
    assert hint == "quote it to keep it as text"


def test_a_long_string_is_cut_short_in_its_error(tmp_path: pathlib.Path) -> None:
    text = OWNED.replace("regions: [us-central1]", f"regions: [{'Region' * 1000}]", 1)
    found = [m for m, _ in diagnostics(tmp_path, text) if "regions" in m]
    assert found and all("... (6000 characters)" in m and len(m) < 400 for m in found), found
