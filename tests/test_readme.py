"""The README's examples are real: its tour validates and its commands exist."""

from __future__ import annotations

import pathlib
import re

from conftest import ROOT
from helpers import run

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_tour_of_mlops_yaml_is_valid(tmp_path: pathlib.Path) -> None:
    tour = README.split("## A tour of mlops.yaml", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", tour, re.S)
    assert block is not None
    path = tmp_path / "mlops.yaml"
    path.write_text(block.group(1), encoding="utf-8")
    code, _, err = run("validate", path)
    assert (code, err) == (0, "")


def test_quick_start_has_exactly_two_commands() -> None:
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.*?)```", quick, re.S)
    assert len(commands) == 2
    assert "mlopsctl plan examples/projects/" in commands[0]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[1].strip() in ci
