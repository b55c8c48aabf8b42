from __future__ import annotations

import pytest
import yaml

from mlopsctl.io.yamlio import dump_yaml

# Strings that a YAML 1.1 reader (Go's yaml.v2, used by kubectl and kustomize) would not read as strings.
AMBIGUOUS = [
    "y",
    "n",
    "yes",
    "No",
    "on",
    "OFF",
    "true",
    "null",
    "~",
    "1.0",
    "12:30",
    "0755",
    "0x1F",
    "1e3",
    "0o17",
    "0O17",
    "-0o17",
    "0X1F",
    "0B11",
    "1.e3",
    "+1",
    "-.5",
    "1_000",
]


@pytest.mark.parametrize("value", [*AMBIGUOUS, "plain", "a: b", "{{ x }}", "line\nbreak\n", "it's", "- item"])
def test_strings_survive_a_yaml_1_1_reader(value: str) -> None:
    text = dump_yaml({"v": value})
    assert yaml.load(text, Loader=yaml.SafeLoader) == {"v": value}  # PyYAML reads YAML 1.1
    if value in AMBIGUOUS:
        assert text.startswith("v: '")


def test_kubernetes_keys_come_first_then_sorted() -> None:
    text = dump_yaml({"spec": {"b": 1, "a": 2}, "metadata": {"name": "x"}, "kind": "K", "apiVersion": "v1"})
    assert text == "apiVersion: v1\nkind: K\nmetadata:\n  name: x\nspec:\n  a: 2\n  b: 1\n"
