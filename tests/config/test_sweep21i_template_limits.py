"""A template override can neither compute for hours nor make gigabytes: such an expression is refused
with a located E314, at render time, and compiling it (what ``validate`` does) does no work at all."""

from __future__ import annotations

import pathlib

import pytest
from helpers import WITH_DATA, write

from mlopsctl import api
from mlopsctl.config.templates import TemplateError, render_object

OVERRIDDEN = WITH_DATA.replace("  name: demo\n", "  name: demo\n  templates: overrides\n")
HEAD = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {{ name | tojson }}\n  labels: "
"""A namespace template whose labels (line 5, column 11) are the expression under test."""

# Each is cheap enough to finish before the limits existed (so that the test failed, not hung),
# and each is the seed of an expression that does not finish, or fills the memory.
REFUSED = {
    "power": ("{{ {'n': (name | length) ** 99999} | tojson }}", "an integer of more than"),
    "power of a constant": ("{{ {'n': (2 ** 64) ** 9999} | tojson }}", "an integer of more than"),
    "repeated string": ("{{ {'a': name * 30000000} | tojson }}", "'*' would make"),
    "repeated list": ("{{ {'a': ([name] * 3000000) | length} | tojson }}", "'*' would make"),
    "centred": ("{{ {'a': name | center(100000000)} | tojson }}", "'center' would make"),
    "method": ("{{ {'a': name.ljust(100000000)} | tojson }}", "'ljust' would make"),
    "format width": ("{{ {'a': '%099999999d' % 1} | tojson }}", "width or precision"),
    "format method": ("{{ {'a': '{:>99999999}'.format(1)} | tojson }}", "width or precision"),
    "mapped": ("{{ {'a': range(100000) | map('center', 20000) | join} | tojson }}", "'map' would make"),
    "batch filler": ("{{ {'a': (range(2) | batch(100000000, 'x') | list) | length} | tojson }}", "'batch'"),
    "concatenated": ("{{ {'a': (name * 200000) ~ (name * 200000)} | tojson }}", "'~' would make"),
    "budget": (
        "{{ {'a': [" + ", ".join(["((name * 200000) ~ '') | length"] * 6) + "]} | tojson }}",
        "in all",
    ),
}
ALLOWED = {
    "{{ {'a': (name ~ '-' ~ name)} | tojson }}": {"a": "demo-demo"},
    "{{ {'a': '-' * 3, 'b': 2 ** 10, 'c': 1000000 + 1000000} | tojson }}": {
        "a": "---",
        "b": 1024,
        "c": 2000000,
    },
    "{{ {'a': '%s-%02d' % (name, 7), 'b': '{}/{}'.format(name, 1)} | tojson }}": {
        "a": "demo-07",
        "b": "demo/1",
    },
    "{{ {'a': range(3) | map('string') | join(',')} | tojson }}": {"a": "0,1,2"},
    "{{ {'a': (range(4) | batch(2) | list) | length, 'b': name | upper} | tojson }}": {"a": 2, "b": "DEMO"},
    "{{ labels | tojson }}": {"team": "ml"},
    # Large numbers are values, not sizes, for what does not repeat or pad by them.
    "{{ {'a': 17179869184 | string, 'b': (17179869184 / 1024) | int, 'c': 1700000000 | abs} | tojson }}": {
        "a": "17179869184",
        "b": 16777216,
        "c": 1700000000,
    },
}


def _override(folder: pathlib.Path, labels: str) -> pathlib.Path:
    (folder / "kubernetes").mkdir(parents=True, exist_ok=True)
    (folder / "kubernetes" / "namespace.yaml.j2").write_text(HEAD + labels + "\n")
    return folder


@pytest.mark.parametrize(("expression", "reason"), REFUSED.values(), ids=REFUSED.keys())
def test_work_and_size_are_bounded(tmp_path: pathlib.Path, expression: str, reason: str) -> None:
    folder = _override(tmp_path / "overrides", expression)
    with pytest.raises(TemplateError) as caught:
        render_object("namespace", folder, name="demo", labels={}, annotations={})
    assert (caught.value.line, caught.value.column) == (5, 11)
    assert "cannot be computed" in caught.value.message
    assert reason in caught.value.message


@pytest.mark.parametrize(("expression", "labels"), ALLOWED.items())
def test_ordinary_expressions_still_render(tmp_path: pathlib.Path, expression: str, labels: object) -> None:
    folder = _override(tmp_path / "overrides", expression)
    obj = render_object("namespace", folder, name="demo", labels={"team": "ml"}, annotations={})
    assert obj["metadata"]["labels"] == labels


def test_validate_compiles_without_evaluating(tmp_path: pathlib.Path) -> None:
    """Jinja folds constants while compiling: nothing may be folded, so validate does no work."""
    _override(tmp_path / "overrides", "{{ {'n': (2 ** 64) ** 9999} | tojson }}")
    with api.open_config(write(tmp_path, OVERRIDDEN)) as validation:
        assert [d.to_text() for d in validation.diagnostics] == []


def test_a_literal_too_large_for_python_is_a_located_error(tmp_path: pathlib.Path) -> None:
    _override(tmp_path / "overrides", "{{ " + "7" * 5000 + " | tojson }}")
    with api.open_config(write(tmp_path, OVERRIDDEN)) as validation:
        [error] = [d.to_text() for d in validation.diagnostics]
    assert "overrides/kubernetes/namespace.yaml.j2:5:11: error E314:" in error
    assert "cannot be compiled" in error
