"""plan against a target whose preview refuses (no cluster to dry-run against): under -f json the
refusal is the one document printed, and --out saves nothing."""

from __future__ import annotations

import json
import pathlib

import pytest
from helpers import WITH_DATA, run, write

from mlopsctl.cli.common import one_line


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_a_refused_preview_saves_nothing_and_prints_one_document(tmp_path: pathlib.Path, fmt: str) -> None:
    config = write(tmp_path, WITH_DATA)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    saved = tmp_path / "plan.json"
    args = ("plan", config, "--target", "kubernetes", "--kubeconfig", kubeconfig, "--state", tmp_path / "st")
    code, out, err = run(*args, "--env", "dev", "--out", saved, "-f", fmt)
    assert code == 1 and not saved.exists()
    if fmt == "json":
        (refused,) = json.loads(out)["diagnostics"]  # one document: the refusal, not the plan before it
        assert refused["code"] == "refused" and not err
    else:
        assert out.startswith("\nmlopsctl will") or "Plan:" in out  # the plan, then why it was not previewed
        assert err.startswith("error: ")


@pytest.mark.parametrize(
    ("message", "line"),
    [
        ("no lock held", "no lock held"),
        (
            "deploy has uncommitted changes:\n   M a.yaml\n  ?? b.txt\n",
            "deploy has uncommitted changes: M a.yaml, ?? b.txt",
        ),
        ("", ""),
    ],
)
def test_a_refusal_of_several_lines_is_one_line_of_json(message: str, line: str) -> None:
    assert one_line(message) == line
