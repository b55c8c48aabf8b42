from __future__ import annotations

import pathlib
import tomllib

import pytest
from conftest import ROOT
from helpers import WITH_DATA, run, write

from mlopsctl.config.templates import BUILTIN_TEMPLATES, TemplateError, render_object

HOSTILE = [
    "quote\" and 'single'",
    "new\nline: injected\nkind: Secret",
    "{{ 7 * 7 }} {% if true %}x{% endif %}",
    "key: value\n- list\n---\napiVersion: v1",
    "&anchor *alias !!python/object:os.system",
    "\u2028unicode\u0085separators",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_user_strings_cannot_change_a_manifests_structure(value: str) -> None:
    obj = render_object("namespace", name=value, labels={"a": value, value: "b"})
    assert obj == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": value, "labels": {"a": value, value: "b"}},
    }


def _override(folder: pathlib.Path, body: str) -> pathlib.Path:
    path = folder / "kubernetes" / "namespace.yaml.j2"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    return folder


@pytest.mark.parametrize("expression", ["name", "name | e", "name | safe", "name | tojson ~ name"])
def test_unescaped_values_are_refused(tmp_path: pathlib.Path, expression: str) -> None:
    body = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {{ " + expression + " }}\n"
    folder = _override(tmp_path / str(len(expression)), body)
    with pytest.raises(TemplateError, match="not escaped"):
        render_object("namespace", folder, name="x\n  annotations: {evil: '1'}", labels={})


def test_undefined_values_are_refused(tmp_path: pathlib.Path) -> None:
    folder = _override(tmp_path, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {{ nope | tojson }}\n")
    with pytest.raises(TemplateError, match="undefined"):
        render_object("namespace", folder, name="x", labels={})


def test_output_must_be_a_kubernetes_object(tmp_path: pathlib.Path) -> None:
    folder = _override(tmp_path, "just: {{ name | tojson }}\n")
    with pytest.raises(TemplateError, match="without 'apiVersion'"):
        render_object("namespace", folder, name="x", labels={})


def test_a_template_with_a_duplicate_key_is_refused(tmp_path: pathlib.Path) -> None:
    body = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {{ name | tojson }}\n  name: other\n"
    folder = _override(tmp_path, body)
    with pytest.raises(TemplateError, match="duplicate key 'name'"):
        render_object("namespace", folder, name="x", labels={})


def test_project_templates_override_the_builtin_ones(tmp_path: pathlib.Path) -> None:
    _override(
        tmp_path / "overrides",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {{ name | tojson }}\n"
        "  labels: {{ labels | tojson }}\n  annotations: {team: platform}\n",
    )
    config = WITH_DATA.replace("  name: demo\n", "  name: demo\n  templates: overrides\n")
    out = tmp_path / "out"
    code, _, err = run("render", write(tmp_path, config), "--out", out, "--env", "dev")
    assert code == 0, err
    assert "team: platform" in (out / "dev" / "us-central1" / "manifests" / "namespace-demo.yaml").read_text()


def test_a_broken_override_is_a_clear_error(tmp_path: pathlib.Path) -> None:
    _override(tmp_path / "overrides", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {{ name }}\n")
    config = WITH_DATA.replace("  name: demo\n", "  name: demo\n  templates: overrides\n")
    code, _, err = run("plan", write(tmp_path, config))
    assert code == 1 and "Traceback" not in err
    where = f"{tmp_path}/overrides/kubernetes/namespace.yaml.j2:4:9"
    assert err.startswith(f"{where}: error E314: template value"), err
    assert "is not escaped: pipe it through '| tojson'" in err


def test_builtin_templates_ship_with_the_package() -> None:
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    shipped = {p for pattern in package_data["mlopsctl"] for p in (ROOT / "mlopsctl").glob(pattern)}
    templates = set(BUILTIN_TEMPLATES.rglob("*.j2"))
    assert templates and {p.resolve() for p in templates} <= {p.resolve() for p in shipped}
    assert {p.name for p in templates} == {p.name for p in (ROOT / "templates").rglob("*.j2")}
