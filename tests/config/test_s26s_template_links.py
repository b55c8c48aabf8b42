"""A template override folder whose ``kubernetes/`` subfolder is a link: validate reads what render
reads. A link that leaves the project is refused by validate (not only by render), and render's
error names the template as the project has it, not by an absolute path."""

from __future__ import annotations

import pathlib

import pytest
from helpers import WITH_DATA, run, write

from mlopsctl import api

OVERRIDDEN = WITH_DATA.replace("  name: demo\n", "  name: demo\n  templates: overrides\n")
NAMESPACE = (
    "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {{ name | tojson }}\n"
    "  labels: {{ {'leak': 'HOST-SECRET'} | tojson }}\n"
)


def _linked_project(tmp_path: pathlib.Path, target: pathlib.Path) -> pathlib.Path:
    (target / "kubernetes").mkdir(parents=True)
    (target / "kubernetes" / "namespace.yaml.j2").write_text(NAMESPACE)
    config = write(tmp_path / "project", OVERRIDDEN)
    (tmp_path / "project" / "overrides").mkdir(exist_ok=True)
    (tmp_path / "project" / "overrides" / "kubernetes").symlink_to(target / "kubernetes")
    return config


def test_a_linked_subfolder_that_leaves_the_project_fails_validate(tmp_path: pathlib.Path) -> None:
    config = _linked_project(tmp_path, tmp_path / "host")
    with api.open_config(config) as validation:
        errors = [d.to_text() for d in validation.diagnostics]
    assert len(errors) == 1
    assert errors[0].startswith(
        f"{tmp_path}/project/overrides/kubernetes/namespace.yaml.j2:1:1: error E314: template "
        "'kubernetes/namespace.yaml.j2' in 'overrides' links outside its folder"
    )
    assert "not a link to it" in errors[0]


def test_render_names_the_linked_template_relative_to_the_config(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _linked_project(tmp_path, tmp_path / "host")
    monkeypatch.chdir(tmp_path / "project")
    code, out, err = run("render", "mlops.yaml", "--out", tmp_path / "out")
    assert (code, out) == (1, "")
    assert err.startswith("overrides/kubernetes/namespace.yaml.j2:1:1: error E314: "), err
    assert "HOST-SECRET" not in err
    assert not (tmp_path / "out").exists()


def test_a_linked_subfolder_inside_the_project_is_compiled_by_validate(tmp_path: pathlib.Path) -> None:
    """The template behind the link is checked at validate time, as one in the folder is."""
    config = _linked_project(tmp_path, tmp_path / "project" / "overrides" / "shared")
    broken = tmp_path / "project" / "overrides" / "shared" / "kubernetes" / "namespace.yaml.j2"
    broken.write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x-{{ name | tojson }}\n")
    with api.open_config(config) as validation:
        errors = [d.to_text() for d in validation.diagnostics]
    assert [e for e in errors if "overrides/kubernetes/namespace.yaml.j2:4:11: error E314:" in e], "\n".join(
        errors
    )
