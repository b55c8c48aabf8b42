from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from mlopsctl.io.yamlio import dump_json_rows, dump_yaml, str_style

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


def canonical(value: Any) -> Any:
    """A copy with the keys of every mapping in output order: Kubernetes' first, then sorted."""
    if isinstance(value, dict):
        first = [k for k in ("apiVersion", "kind", "metadata") if k in value]
        return {k: canonical(value[k]) for k in first + sorted(k for k in value if k not in first)}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    return value


def pyyaml_dump(value: Any) -> str:
    """What PyYAML's own representer and serializer write: the bytes ``dump_yaml`` must write."""

    class Dumper(yaml.CSafeDumper):  # type: ignore[misc]
        pass

    def represent_str(dumper: Any, data: str) -> Any:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=str_style(data))

    Dumper.add_representer(str, represent_str)
    text: str = yaml.dump(
        canonical(value),
        Dumper=Dumper,
        sort_keys=False,
        default_flow_style=False,
        width=4096,
        allow_unicode=True,
    )
    return text


@pytest.mark.parametrize(
    "value",
    [
        {
            "floats": [1.0, -0.0, 1e17, 1e-05, 3.14159, float("nan"), float("inf"), -float("inf")],
            "ints": [0, 10**30],
        },
        {
            "bools": [True, False],
            "none": None,
            "empty": {},
            "nothing": [],
            "nested": [[], [{}], {"a": (1, (2,))}],
        },
        {"on": "yes", "y": "1.5", "": "", " lead": "trail ", "tab\t": "a\tb", "0o7": "-1"},
        {"literal": "a\nb\n", "spaces": "a\nb ", "tabs": "a\n\tb", "crlf": "a\r\nb"},
        {"unicode": "naïve ✓ 日本 😀", "bom": "\ufeffx", "nel": "a\x85b", "bell": "a\x07b", "ls": "a\u2028b"},
        {
            "indicators": [
                "a: b",
                "a #b",
                "- x",
                "*x",
                "&x",
                "!x",
                "%x",
                "@x",
                "`x",
                "it's",
                'say "hi"',
                "{x}",
                "[x]",
            ]
        },
        {"resolvers": ["2001-12-14", "<<", "=", "0b101", "0x1F", "190:20:30", ".inf", ".NaN", "1_000", "+1"]},
        {"long": "x " * 3000, "k" * 200: "a long key", "multi\nline": "key"},
        {"spec": {"b": 1, "a": 2}, "metadata": {"name": "x"}, "kind": "K", "apiVersion": "v1"},
        ["top", "level", {"list": True}],
        "a string",
        7,
        None,
    ],
)
def test_output_is_pyyamls_byte_for_byte(value: Any) -> None:
    assert dump_yaml(value) == pyyaml_dump(value)


def test_only_json_values_are_written() -> None:
    with pytest.raises(yaml.representer.RepresenterError):
        dump_yaml({"when": {1, 2}})


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (
            {
                "project": "p",
                "resources": [{"b": 1, "a": [1, 2]}, {"inputs": {"text": "naïve\n"}}],
                "env": "dev",
            },
            '{"env":"dev","project":"p","resources":[\n{"a":[1,2],"b":1},\n{"inputs":{"text":"naïve\\n"}}\n]}\n',
        ),
        ({"z": None, "resources": []}, '{"resources":[\n],"z":null}\n'),
    ],
)
def test_json_rows_are_compact_with_one_row_per_line(value: dict[str, Any], text: str) -> None:
    assert dump_json_rows(value, "resources") == text
    assert json.loads(text) == value
