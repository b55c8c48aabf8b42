"""Every property of the JSON Schema of mlops.yaml has a description, for editors' hovers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from mlopsctl.config.schema import schema


def properties(node: Any, where: str = "#") -> Iterator[tuple[str, Any]]:
    """(JSON pointer, subschema) of every property, at any depth: root, $defs, nested and inline."""
    if isinstance(node, dict):
        props = node.get("properties")
        if isinstance(props, dict):
            for name, sub in props.items():
                yield f"{where}/properties/{name}", sub
        for key, value in node.items():
            yield from properties(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from properties(value, f"{where}/{i}")


def undescribed(node: Any) -> list[str]:
    return [
        where
        for where, sub in properties(node)
        if not (
            isinstance(sub, dict) and isinstance(sub.get("description"), str) and sub["description"].strip()
        )
    ]


def test_every_property_has_a_description() -> None:
    missing = undescribed(schema())
    assert not missing, f"{len(missing)} properties have no description:\n" + "\n".join(missing)


def test_the_schema_has_properties_in_nested_definitions() -> None:
    found = [where for where, _ in properties(schema())]
    assert "#/properties/project" in found
    assert "#/$defs/Step/properties/resources" in found
    assert len(found) > 300


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({"properties": {"a": {"description": "A."}}}, []),
        ({"properties": {"a": {"type": "string"}}}, ["#/properties/a"]),
        ({"properties": {"a": {"description": "  "}}}, ["#/properties/a"]),
        ({"$defs": {"X": {"properties": {"b": {"$ref": "#/$defs/Y"}}}}}, ["#/$defs/X/properties/b"]),
        (
            {"properties": {"a": {"description": "A.", "properties": {"c": {}}}}},
            ["#/properties/a/properties/c"],
        ),
        (
            {"properties": {"a": {"description": "A.", "anyOf": [{"properties": {"d": {}}}]}}},
            ["#/properties/a/anyOf/0/properties/d"],
        ),
    ],
    ids=["described", "missing", "blank", "in-defs", "nested", "inside-anyOf"],
)
def test_undescribed_finds_every_missing_description(node: dict[str, Any], expected: list[str]) -> None:
    assert undescribed(node) == expected
