"""Kubernetes objects come from the templates only, and no value can change their structure."""

from __future__ import annotations

import ast
import pathlib
import tomllib

import pytest
from conftest import ROOT
from helpers import WITH_DATA, planned, selected, validated, write

from mlopsctl import api
from mlopsctl.config.templates import BUILTIN_TEMPLATES, TemplateError, compile_template, render_object

HOSTILE = [
    "quote\" and 'single'",
    "new\nline: injected\nkind: Secret",
    "{{ 7 * 7 }} {% if true %}x{% endif %}",
    "key: value\n- list\n---\napiVersion: v1",
    "&anchor *alias !!python/object:os.system",
    "\u2028unicode\u0085separators",
]
KUSTOMIZE_BUILD_FILE = ("mlopsctl/output/folders.py", "kustomize.config.k8s.io/v1beta1")
"""The one ``apiVersion`` outside the templates: kustomize's own build file, which is no Kubernetes
object (a project may not override it: it lists what is applied)."""


@pytest.mark.parametrize("value", HOSTILE)
def test_user_strings_cannot_change_a_manifests_structure(value: str) -> None:
    obj = render_object("namespace", name=value, labels={"a": value, value: "b"}, annotations={})
    assert obj == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": value, "labels": {"a": value, value: "b"}},
    }


def _api_versions_built_in(path: pathlib.Path) -> list[tuple[int, str]]:
    """Where ``path`` builds a mapping with an ``apiVersion`` key (a literal or ``dict(...)``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "apiVersion":
                    found.append((node.lineno, ast.unparse(value)))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
            found += [(node.lineno, ast.unparse(k.value)) for k in node.keywords if k.arg == "apiVersion"]
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.slice, ast.Constant)
            and node.slice.value == "apiVersion"
            and isinstance(node.ctx, ast.Store)
        ):
            found.append((node.lineno, "(assigned)"))
    return found


def test_no_kubernetes_object_is_built_outside_the_templates() -> None:
    """One rule: every object's shape is a template under templates/kubernetes/; Python computes values."""
    built = {
        f"{path.relative_to(ROOT)}:{line}": value
        for folder in ("compiler", "output")
        for path in sorted((ROOT / "mlopsctl" / folder).rglob("*.py"))
        for line, value in _api_versions_built_in(path)
    }
    allowed = {k: v for k, v in built.items() if k.split(":")[0] == KUSTOMIZE_BUILD_FILE[0]}
    assert list(allowed.values()) in ([], [repr(KUSTOMIZE_BUILD_FILE[1])])
    assert {k: v for k, v in built.items() if k not in allowed} == {}


def test_the_scan_finds_each_way_of_building_an_object(tmp_path: pathlib.Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        'a = {"apiVersion": "v1", "kind": "X"}\nb = dict(apiVersion="v1")\nc = {}\nc["apiVersion"] = "v1"\n'
        'd = {"kind": "apiVersion"}\ne = c["apiVersion"]\n'
    )
    assert _api_versions_built_in(source) == [(1, "'v1'"), (2, "'v1'"), (4, "(assigned)")]


@pytest.mark.parametrize("path", sorted(BUILTIN_TEMPLATES.rglob("*.j2")), ids=lambda p: p.name)
def test_every_builtin_template_compiles(path: pathlib.Path) -> None:
    template = compile_template(path, BUILTIN_TEMPLATES)
    assert {("apiVersion",), ("kind",), ("metadata",)} <= set(template.positions)


def _override(folder: pathlib.Path, body: str) -> pathlib.Path:
    path = folder / "kubernetes" / "namespace.yaml.j2"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    return folder


@pytest.mark.parametrize("expression", ["name", "name | e", "name | safe", "name | tojson ~ name"])
def test_unescaped_values_are_refused(tmp_path: pathlib.Path, expression: str) -> None:
    body = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {{ " + expression + " }}\n"
    folder = _override(tmp_path, body)
    with pytest.raises(TemplateError, match="is not escaped: pipe it through") as caught:
        render_object("namespace", folder, name="x\n  annotations: {evil: '1'}", labels={}, annotations={})
    assert (caught.value.line, caught.value.column) == (4, 9)


def test_undefined_values_are_refused(tmp_path: pathlib.Path) -> None:
    folder = _override(tmp_path, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {{ nope | tojson }}\n")
    with pytest.raises(TemplateError, match="'nope' is undefined"):
        render_object("namespace", folder, name="x", labels={}, annotations={})


def test_output_must_be_a_kubernetes_object(tmp_path: pathlib.Path) -> None:
    folder = _override(tmp_path, "just: {{ name | tojson }}\n")
    with pytest.raises(TemplateError, match="without 'apiVersion'"):
        render_object("namespace", folder, name="x", labels={}, annotations={})


def test_project_templates_override_the_builtin_ones(tmp_path: pathlib.Path) -> None:
    _override(
        tmp_path / "overrides",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {{ name | tojson }}\n"
        "  labels: {{ labels | tojson }}\n  annotations: {team: platform}\n",
    )
    config = WITH_DATA.replace("  name: demo\n", "  name: demo\n  templates: overrides\n")
    out = tmp_path / "out"
    with validated(write(tmp_path, config), selected(["dev"])) as validation:
        api.render(validation, out)
    assert "team: platform" in (out / "dev" / "us-central1" / "manifests" / "namespace-demo.yaml").read_text()


def test_a_broken_override_is_a_clear_error(tmp_path: pathlib.Path) -> None:
    _override(tmp_path / "overrides", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {{ name }}\n")
    config = WITH_DATA.replace("  name: demo\n", "  name: demo\n  templates: overrides\n")
    with pytest.raises(api.UserError) as caught:
        planned(write(tmp_path, config))
    where = f"{tmp_path}/overrides/kubernetes/namespace.yaml.j2:4:9"
    assert caught.value.located
    assert str(caught.value).startswith(
        f"{where}: error E314: template value '{{{{ name }}}}' is not escaped"
    )


def test_builtin_templates_ship_with_the_package() -> None:
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    shipped = {p for pattern in package_data["mlopsctl"] for p in (ROOT / "mlopsctl").glob(pattern)}
    templates = set(BUILTIN_TEMPLATES.rglob("*.j2"))
    assert templates and {p.resolve() for p in templates} <= {p.resolve() for p in shipped}
    assert {p.name for p in templates} == {p.name for p in (ROOT / "templates").rglob("*.j2")}
