"""A project's template overrides are code from pull requests: they can neither run anything
nor read a file outside their folder."""

from __future__ import annotations

import pathlib

import pytest
from helpers import WITH_DATA, run, selected, write

from mlopsctl import api
from mlopsctl.config.templates import TemplateError, render_object

MARKER = "mlopsctl-ssti-marker"
OVERRIDDEN = WITH_DATA.replace("  name: demo\n", "  name: demo\n  templates: overrides\n")
"""A project whose templates are overridden from the folder 'overrides'."""
PAYLOADS = [
    "{{ cycler.__init__.__globals__.os.popen('touch MARKER').read() | tojson }}",
    "{{ joiner.__init__.__globals__.os.system('touch MARKER') | tojson }}",
    "{{ namespace.__init__.__globals__.os.popen('touch MARKER') | tojson }}",
    "{{ lipsum.__globals__['os'].popen('touch MARKER') | tojson }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() | tojson }}",
    "{{ self._TemplateReference__context.cycler.__init__.__globals__.os.popen('touch MARKER') | tojson }}",
    "{{ request.application.__globals__.__builtins__.__import__('os').popen('touch MARKER') | tojson }}",
    "{% set x = labels.update({'a': 'b'}) %}{{ name | tojson }}",
    "{{ config.__class__.__init__.__globals__['os'].popen('touch MARKER') | tojson }}",
    "{{ (name|attr('__class__')).__mro__ | tojson }}",
]


def _override(folder: pathlib.Path, body: str) -> pathlib.Path:
    (folder / "kubernetes").mkdir(parents=True, exist_ok=True)
    (folder / "kubernetes" / "namespace.yaml.j2").write_text(body)
    return folder


def _project(folder: pathlib.Path, payload: str) -> None:
    """A project in ``folder`` (the working directory) whose namespace template carries ``payload``."""
    body = (
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: "
        + payload.replace("MARKER", str(folder / MARKER))
        + "\n  labels: {{ labels | tojson }}\n"
    )
    _override(folder / "overrides", body)
    write(folder, OVERRIDDEN)


def _refused_render(out: pathlib.Path) -> str:
    """The first error that refuses ``render --env dev`` of the project in the working directory: a
    diagnostic of its validation, or the located error of the render."""
    try:
        with api.open_config(pathlib.Path("mlops.yaml"), None, selected(["dev"])) as validation:
            errors = [d.to_text() for d in validation.diagnostics if d.is_error]
            if errors:
                return errors[0]
            api.render(validation, out)
    except api.UserError as exc:
        assert exc.located
        return str(exc)
    raise AssertionError("the render was not refused")


@pytest.mark.parametrize("payload", PAYLOADS)
def test_template_injection_payloads_run_nothing(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, payload: str
) -> None:
    monkeypatch.chdir(tmp_path)
    _project(tmp_path, payload)
    out = tmp_path / "out"
    assert _refused_render(out).startswith("overrides/kubernetes/namespace.yaml.j2:4:9: error E314: ")
    assert not (tmp_path / MARKER).exists()
    assert not out.exists()


def test_a_template_linked_to_a_host_file_is_refused(tmp_path: pathlib.Path) -> None:
    secret = tmp_path / "host-secret.txt"
    secret.write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: leaked\n")
    folder = tmp_path / "project" / "overrides"
    (folder / "kubernetes").mkdir(parents=True)
    (folder / "kubernetes" / "namespace.yaml.j2").symlink_to(secret)
    with pytest.raises(TemplateError, match="links outside its folder") as caught:
        render_object("namespace", folder, name="x", labels={}, annotations={})
    assert caught.value.file == folder / "kubernetes" / "namespace.yaml.j2"
    with api.open_config(write(tmp_path / "project", OVERRIDDEN)) as validation:
        [error] = [d.to_text() for d in validation.diagnostics]
    assert "E314: template 'kubernetes/namespace.yaml.j2' in 'overrides' links outside its folder" in error
    assert "leaked" not in error


def test_a_link_inside_the_folder_is_read(tmp_path: pathlib.Path) -> None:
    folder = tmp_path / "overrides"
    shared = folder / "shared" / "namespace.yaml"
    shared.parent.mkdir(parents=True)
    shared.write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {{ name | tojson }}\n")
    (folder / "kubernetes").mkdir()
    (folder / "kubernetes" / "namespace.yaml.j2").symlink_to(shared)
    obj = render_object("namespace", folder, name="x", labels={}, annotations={})
    assert obj["metadata"] == {"name": "x"}


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payloads_fail_where_they_are_written(tmp_path: pathlib.Path, payload: str) -> None:
    marker = tmp_path / MARKER
    written = payload.replace("MARKER", str(marker))
    folder = _override(tmp_path, f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {written}\n")
    with pytest.raises(TemplateError) as caught:
        render_object(
            "namespace", folder, name="x", labels={}, annotations={}, request={}, config={}, self={}
        )
    assert (caught.value.line, caught.value.column) == (4, 9), caught.value
    assert "is undefined" not in caught.value.message  # the sandbox refused it, not a missing name
    assert not marker.exists()


@pytest.mark.parametrize(
    ("expression", "values", "expected"),
    [
        ("name | tojson", {"name": "a"}, "a"),
        ("  name|tojson ", {"name": {"k": [1, (2, 3)]}}, {"k": [1, [2, 3]]}),
        ("true | tojson", {"true": "shadowed"}, True),
        ("none | tojson", {}, None),
        ("range | tojson", {}, "error: not JSON data"),
        ("missing | tojson", {}, "error: 'missing' is undefined"),
        ("name | tojson", {"name": object()}, "error: not JSON data"),
    ],
)
def test_a_bare_variable_reads_as_jinja_reads_it(
    expression: str, values: dict[str, object], expected: object
) -> None:
    """``{{ name | tojson }}`` is looked up directly (the hot path); the result is Jinja's."""
    from mlopsctl.config.template_tree import compile_text

    template = compile_text(f"value: {{{{ {expression} }}}}\n", pathlib.Path("t.yaml.j2"))
    if isinstance(expected, str) and expected.startswith("error: "):
        with pytest.raises(TemplateError, match=expected.removeprefix("error: ")):
            template.render(values)
    else:
        assert template.render(values) == {"value": expected}


def test_cli_render_prints_the_located_error_and_exits_1(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _project(tmp_path, PAYLOADS[0])
    code, out, err = run("render", "mlops.yaml", "--out", tmp_path / "out", "--env", "dev")
    assert (code, out) == (1, "")
    assert err.startswith("overrides/kubernetes/namespace.yaml.j2:4:9: error E314: "), err
    assert "Traceback" not in err
