"""The structural template engine: placeholders for whole keys and values, refused forms located
at their line and column, an override's identity guard, and one compilation per file and folder."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
from helpers import MINIMAL, write

from mlopsctl.api import ALL, validate
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.templates import TemplateError, compile_template, render_object

CONFIG_MAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ name | tojson }}
data:
  {{ key | tojson }}: {{ value | tojson }}
  fixed: "1"
list: [{{ first | tojson }}, 2, {name: {{ name | tojson }}}]
"""
NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {{ name | tojson }}\n"
VALUES: dict[str, Any] = {"name": "x", "labels": {"a": "b"}, "annotations": {}}


def _template(folder: pathlib.Path, body: str, name: str = "namespace") -> pathlib.Path:
    path = folder / "kubernetes" / f"{name}.yaml.j2"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    return path


def _render(folder: pathlib.Path, body: str, **values: object) -> object:
    return compile_template(_template(folder, body, "configmap"), folder).render(values)


def test_placeholders_are_whole_keys_and_values(tmp_path: pathlib.Path) -> None:
    value = "v: {x}\n- y"
    obj = _render(tmp_path, CONFIG_MAP, name="cm", key="k", value=value, first=(1, 2))
    assert obj == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm"},
        "data": {"k": value, "fixed": "1"},
        "list": [[1, 2], 2, {"name": "cm"}],
    }


def test_each_render_is_a_copy_of_its_values_and_of_the_template(tmp_path: pathlib.Path) -> None:
    template = compile_template(_template(tmp_path, CONFIG_MAP, "configmap"), tmp_path)
    first = [1, {"deep": ["x"]}]
    values = {"name": "cm", "key": "k", "value": "v", "first": first}
    obj = template.render(values)
    obj["list"][0][1]["deep"].append("changed")
    obj["data"]["fixed"] = "changed"
    assert first == [1, {"deep": ["x"]}]
    assert template.render(values) == {
        **obj,
        "data": {"k": "v", "fixed": "1"},
        "list": [first, 2, {"name": "cm"}],
    }


@pytest.mark.parametrize(
    ("key", "value", "column", "problem"),
    [
        (1, "v", 3, "key is int, not a string"),
        ("fixed", "v", 3, "key 'fixed' is given twice"),
        ("k", {1, 2}, 23, "cannot be computed: a value of type set is not JSON data"),
        ("k", {1: "a"}, 23, "keys that are not strings"),
        ("k", object(), 23, "cannot be computed: a value of type object is not JSON data"),
    ],
)
def test_values_that_are_not_json_data_are_refused_where_they_are_written(
    tmp_path: pathlib.Path, key: object, value: object, column: int, problem: str
) -> None:
    with pytest.raises(TemplateError, match=problem) as caught:
        _render(tmp_path, CONFIG_MAP, name="cm", key=key, value=value, first=1)
    assert (caught.value.line, caught.value.column) == (6, column)


LONG = "{{ a_rather_long_expression_name | tojson }}"


@pytest.mark.parametrize(
    ("body", "line", "column", "problem"),
    [
        (NAMESPACE + "{% if x %}  labels: {}\n{% endif %}\n", 5, 1, "has a statement ('{%')"),
        (NAMESPACE + "  labels: {{ labels | tojson }}{% raw %}{% endraw %}\n", 5, 32, "has a statement"),
        ("apiVersion: v1\n{# note #}\nkind: Namespace\n", 2, 1, "has a Jinja comment"),
        ('metadata:\n  name: "{{ name | tojson }}"\n', 2, 10, "not a whole YAML value or key"),
        ("metadata:\n  name: x-{{ name | tojson }}\n", 2, 11, "not a whole YAML value or key"),
        ("metadata:\n  name: |\n    {{ name | tojson }}\n", 3, 5, "not a whole YAML value or key"),
        (f"a: {LONG} {{{{ b | tojson }}}}\n", 1, 4, "not a whole YAML value or key"),
        ("metadata: {name: {{ name | tojson }\n", 1, 18, "does not parse: unexpected '}'"),
        ("a: 1\nb: {{ name | tojson\n", 2, 4, "does not parse: '{{' is never closed"),
        ("a: {{ name | | tojson }}\n", 1, 4, "does not parse: expected token 'name'"),
        ("a: 1\nb: {{ name\n  | | tojson }}\n", 3, 1, "does not parse: expected token 'name'"),
        (f"a: {LONG}: b\n", 1, 48, "is not valid YAML: mapping values are not allowed here"),
        (f"x: [{LONG}, {{{{ b | tojson }}}}, c: d: e]\n", 1, 73, "is not valid YAML: expected ','"),
        ("a: 1\n---\nb: 2\n", 2, 1, "is not valid YAML: but found another document"),
        (NAMESPACE + "  name: other\n", 5, 3, "has a duplicate key 'name'"),
        ("a: 2020-01-01\n", 1, 4, "has a YAML !!timestamp value, which is not JSON data"),
        ("<<: {a: 1}\n", 1, 1, "has a YAML !!merge value"),
        ("a: &x [*x]\n", 1, 4, "has a recursive YAML alias"),
        ("1: a\n", 1, 1, "has a key that is not a string"),
        ("# nothing\n", 1, 1, "is empty"),
    ],
)
def test_refused_templates_are_located(
    tmp_path: pathlib.Path, body: str, line: int, column: int, problem: str
) -> None:
    with pytest.raises(TemplateError) as caught:
        compile_template(_template(tmp_path, body), tmp_path)
    error = caught.value
    assert (error.line, error.column) == (line, column) and problem in error.problem, error
    assert error.file == tmp_path / "kubernetes" / "namespace.yaml.j2"


def test_a_statement_is_refused_with_the_inline_form_as_hint(tmp_path: pathlib.Path) -> None:
    with pytest.raises(TemplateError) as caught:
        compile_template(_template(tmp_path, NAMESPACE + "{%- if x %}\n{% endif %}\n"), tmp_path)
    assert "'{{ (a if condition else b) | tojson }}'" in str(caught.value).splitlines()[1]


def test_whitespace_markers_change_nothing(tmp_path: pathlib.Path) -> None:
    body = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{- name | tojson -}}\n  labels: {}\n"
    assert _render(tmp_path, body, name="cm") == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm", "labels": {}},
    }


@pytest.mark.parametrize(
    ("body", "line", "column", "field"),
    [
        (NAMESPACE.replace("v1", "v2"), 1, 1, "apiVersion 'v2'"),
        (NAMESPACE.replace("Namespace", "ConfigMap"), 2, 1, "kind 'ConfigMap'"),
        (NAMESPACE.replace("name | tojson", '(name ~ "-x") | tojson'), 4, 3, "metadata.name 'x-x'"),
        (NAMESPACE + "  namespace: kube-system\n", 5, 3, "metadata.namespace 'kube-system'"),
        (
            "apiVersion: v1\nkind: Namespace\nmetadata: {{ {'name': 'y'} | tojson }}\n",
            3,
            1,
            "metadata.name 'y'",
        ),
    ],
)
def test_an_override_may_not_change_the_objects_identity(
    tmp_path: pathlib.Path, body: str, line: int, column: int, field: str
) -> None:
    _template(tmp_path, body)
    with pytest.raises(
        TemplateError, match="an override may not change the object's kind/name/namespace"
    ) as caught:
        render_object("namespace", tmp_path, **VALUES)
    assert (caught.value.line, caught.value.column) == (line, column)
    assert caught.value.problem.startswith(f"renders {field} where the built-in one renders")


def test_an_override_may_change_everything_else(tmp_path: pathlib.Path) -> None:
    _template(tmp_path, NAMESPACE + "  labels: {{ labels | tojson }}\n  annotations: {team: platform}\n")
    assert render_object("namespace", tmp_path, **VALUES)["metadata"] == {
        "name": "x",
        "labels": {"a": "b"},
        "annotations": {"team": "platform"},
    }


def test_a_template_is_compiled_once_per_folder(tmp_path: pathlib.Path) -> None:
    render_object("namespace", **VALUES)  # the built-in one is compiled by now
    before = compile_template.cache_info()
    folders = [_template(tmp_path / name, NAMESPACE).parents[1] for name in ("a", "b")]
    for _ in range(3):
        for folder in folders:
            assert render_object("namespace", folder, **VALUES)["metadata"] == {"name": "x"}
            assert render_object("namespace", **VALUES)["metadata"] == {"name": "x", "labels": {"a": "b"}}
    after = compile_template.cache_info()
    assert (after.misses - before.misses, after.currsize - before.currsize) == (2, 2)


def _validate(tmp_path: pathlib.Path, body: str, name: str = "namespace") -> list[str]:
    _template(tmp_path / "t", body, name)
    path = write(tmp_path, MINIMAL.replace("name: demo", "{name: demo, templates: t}"))
    result = validate(ConfigSource(path, "mlops.yaml", None), ALL)
    return [d.to_text() for d in result.diagnostics]


@pytest.mark.parametrize(
    ("body", "first_line", "hint"),
    [
        (
            NAMESPACE + "{% if labels %}  labels: {{ labels | tojson }}\n{% endif %}\n",
            "t/kubernetes/namespace.yaml.j2:5:1: error E314: template 'kubernetes/namespace.yaml.j2' in 't' "
            "has a statement ('{%'): templates hold no statements",
            "compute the value inline, as in '{{ (a if condition else b) | tojson }}'",
        ),
        (
            'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: "demo-{{ name | tojson }}"\n',
            "t/kubernetes/namespace.yaml.j2:4:15: error E314: template 'kubernetes/namespace.yaml.j2' in 't' "
            "has an expression that is not a whole YAML value or key",
            "write the whole value as one",
        ),
        (
            NAMESPACE + "  name: again\n",
            "t/kubernetes/namespace.yaml.j2:5:3: error E314: template 'kubernetes/namespace.yaml.j2' in 't' "
            "has a duplicate key 'name'",
            "a template is YAML",
        ),
    ],
)
def test_validate_reports_what_an_override_would_fail_on(
    tmp_path: pathlib.Path, body: str, first_line: str, hint: str
) -> None:
    [found] = _validate(tmp_path, body)
    assert found.splitlines()[0] == first_line
    assert hint in found.splitlines()[1]


def test_validate_reports_an_override_of_no_template(tmp_path: pathlib.Path) -> None:
    [found] = _validate(tmp_path, NAMESPACE, "namespaces")
    assert "'kubernetes/namespaces.yaml.j2' in 't' replaces no built-in template" in found
