"""Schema errors say how to fix them: every string pattern of mlops.yaml's schema has words for what it
asks (a named type's form, or a hint), so that a pattern added to a model without words fails here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mlopsctl.config import fixes, validate
from mlopsctl.config.schema import schema


def _patterns(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            yield node["pattern"]
        for value in node.values():
            yield from _patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from _patterns(value)


def test_every_pattern_of_the_schema_is_explained_in_words() -> None:
    patterns = set(_patterns(schema()))
    assert patterns
    explained = set(validate._pattern_help()) | {
        p for p in patterns if fixes.constraint_hint("string_pattern_mismatch", {"pattern": p})
    }
    assert patterns <= explained, sorted(patterns - explained)


def test_type_and_constraint_hints_say_what_to_write() -> None:
    assert fixes.type_hint(["an integer"], "'30'") == "remove the quotes: 30"
    assert fixes.type_hint(["a number"], "'1.5e3'") == "remove the quotes: 1.5e3"
    for still_wrong in ("'1.5'", "'inf'", "'NaN'", "'1_000'"):  # not an integer without quotes either
        assert not fixes.type_hint(["an integer"], still_wrong).startswith("remove the quotes")
    assert fixes.type_hint(["true or false"], "'yes'").startswith("write true or false")
    assert fixes.type_hint(["a mapping"], "a list").endswith("not '- ' list items")
    assert fixes.constraint_hint("less_than_equal", {"le": 1000}) == "use a value of at most 1000"
    assert (
        fixes.constraint_hint("string_too_long", {"max_length": 63}) == "shorten it to at most 63 characters"
    )
