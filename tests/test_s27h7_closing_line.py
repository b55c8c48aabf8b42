"""A located error found after validation (a template's E314 when rendered) ends, in text, with the line
an invalid config's errors end with: how many, and that nothing was written where the command writes."""

from __future__ import annotations

import json
import pathlib

import pytest

from tests.helpers import DEV_ONLY, run, write

CONFIG = DEV_ONLY.replace("  name: demo\n", "  name: demo\n  templates: tpl\n", 1)
TEMPLATE = """\
apiVersion: v1
kind: Namespace
metadata:
  name: {{ name | tojson }}
  labels: {{ nosuchvar | tojson }}
"""
E314 = (
    "tpl/kubernetes/namespace.yaml.j2:5:11: error E314: "
    "template value '{{ nosuchvar | tojson }}' cannot be computed"
)


def _project(tmp_path: pathlib.Path) -> pathlib.Path:
    write(tmp_path, TEMPLATE, "tpl/kubernetes/namespace.yaml.j2")
    return write(tmp_path, CONFIG)


@pytest.mark.parametrize(
    ("command", "closing"),
    [
        (["plan"], "mlops.yaml: 1 error"),
        (["check"], "mlops.yaml: 1 error"),
        (["render", "--out", "{out}"], "mlops.yaml: 1 error; nothing was written"),
        (["apply", "--target", "gitops", "--repo", "{out}"], "mlops.yaml: 1 error; nothing was written"),
    ],
)
def test_a_located_error_after_validation_ends_with_the_count(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, command: list[str], closing: str
) -> None:
    _project(tmp_path)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    code, _, stderr = run(*[a.replace("{out}", str(out)) for a in command], "mlops.yaml")
    assert code == 1
    lines = stderr.splitlines()
    assert lines[0].startswith(E314)
    assert lines[1].startswith("  hint: ")
    assert lines[2:] == [closing]
    assert not out.exists() or not any(out.iterdir())


def test_json_stays_one_document_without_a_closing_line(tmp_path: pathlib.Path) -> None:
    config = _project(tmp_path)
    code, stdout, stderr = run("render", "--out", tmp_path / "out", config, "-f", "json")
    assert code == 1
    (found,) = json.loads(stdout)["diagnostics"]
    assert found["code"] == "E314"
    assert "error" not in stderr
