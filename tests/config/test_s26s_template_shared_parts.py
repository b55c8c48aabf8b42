"""A template expression that repeats a large part (a list holding one long string many times) is
refused by what the repetition holds in all, not by its item count alone: otherwise it renders an
object of hundreds of megabytes, or ``join``/``string``/``%`` of it asks for terabytes and fails
with an empty "cannot be computed:" message."""

from __future__ import annotations

import pathlib

import pytest

from mlopsctl.config.templates import TemplateError, render_object

HEAD = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {{ name | tojson }}\n  labels: "

REFUSED = {
    "rendered as is": "{{ {'a': ['a' * 1000000] * 200} | tojson }}",
    "joined": "{{ {'a': (['a' * 1000000] * 1000000) | join} | tojson }}",
    "as a string": "{{ {'a': (['a' * 1000000] * 200) | string | length} | tojson }}",
    "formatted": "{{ {'a': '%s' % (['a' * 1000] * 1000)} | tojson }}",
    "concatenated": "{{ {'a': ((['a' * 1000] * 1000) ~ (['a' * 1000] * 1000)) | length} | tojson }}",
    "nested": "{{ {'a': [[[1] * 1000] * 1000] * 1000} | tojson }}",
    "literal lists of large parts": "{{ [" + ", ".join(["['x' * 1000] * 1000"] * 40) + "] }}",
}
ALLOWED = {
    "{{ {'a': (['ab'] * 1000) | join | length} | tojson }}": {"a": 2000},
    "{{ {'a': ([[1] * 1000] * 1000) | length} | tojson }}": {"a": 1000},
    "{{ {'a': (['x', 'y'] | join(',')) ~ '-' ~ ({'k': 'v'} | string)} | tojson }}": {"a": "x,y-{'k': 'v'}"},
}


def _override(folder: pathlib.Path, labels: str) -> pathlib.Path:
    (folder / "kubernetes").mkdir(parents=True, exist_ok=True)
    (folder / "kubernetes" / "namespace.yaml.j2").write_text(HEAD + labels + "\n")
    return folder


@pytest.mark.parametrize("expression", REFUSED.values(), ids=REFUSED.keys())
def test_repeated_large_parts_are_refused_before_they_are_made(
    tmp_path: pathlib.Path, expression: str
) -> None:
    folder = _override(tmp_path / "overrides", expression)
    with pytest.raises(TemplateError) as caught:
        render_object("namespace", folder, name="demo", labels={}, annotations={})
    assert (caught.value.line, caught.value.column) == (5, 11)
    assert "would make about" in caught.value.message, caught.value.message
    assert "(at most 1,048,576)" in caught.value.message


@pytest.mark.parametrize(("expression", "labels"), ALLOWED.items())
def test_shared_parts_within_the_limits_still_render(
    tmp_path: pathlib.Path, expression: str, labels: object
) -> None:
    folder = _override(tmp_path / "overrides", expression)
    obj = render_object("namespace", folder, name="demo", labels={}, annotations={})
    assert obj["metadata"]["labels"] == labels
