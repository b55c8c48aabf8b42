"""Under ``-f json`` a template that fails when rendered is the located E314 it is in text (found by a
mutation sweep: plan, render and apply printed it as one ``refused`` diagnostic with no file, line or
column, its position and hint folded into the message)."""

from __future__ import annotations

import json
import pathlib

import pytest
from helpers import DEV_ONLY, run, write

from mlopsctl.config.templates import BUILTIN_TEMPLATES

CONFIG = DEV_ONLY.replace("  name: demo\n", "  name: demo\n  templates: tpl\n", 1)
PAYLOAD = "x: {{ cycler.__init__.__globals__.os.popen('id').read() | tojson }}\n"


BUILTIN = (BUILTIN_TEMPLATES / "kubernetes" / "namespace.yaml.j2").read_text(encoding="utf-8")


def _project(tmp_path: pathlib.Path) -> pathlib.Path:
    write(tmp_path, BUILTIN.rstrip("\n") + "\n" + PAYLOAD, "tpl/kubernetes/namespace.yaml.j2")
    return write(tmp_path, CONFIG)


@pytest.mark.parametrize(
    "command",
    [
        ["plan"],
        ["render", "--out", "{out}"],
        ["apply", "--target", "gitops", "--repo", "{out}"],
    ],
)
def test_a_template_refused_when_rendered_is_a_located_diagnostic_in_json(
    tmp_path: pathlib.Path, command: list[str]
) -> None:
    config = _project(tmp_path / "project")
    out = tmp_path / "out"
    args = [a.replace("{out}", str(out)) for a in command]
    code, stdout, _ = run(*args, config, "-f", "json")
    assert code == 1
    (found,) = json.loads(stdout)["diagnostics"]
    line = BUILTIN.rstrip("\n").count("\n") + 2  # the payload, after the built-in template
    assert (found["code"], found["line"], found["column"]) == ("E314", line, 4)
    assert found["file"].endswith("tpl/kubernetes/namespace.yaml.j2")
    assert "'__init__'" in found["message"] and found["hint"]
    assert not out.exists() or not any(out.iterdir())
