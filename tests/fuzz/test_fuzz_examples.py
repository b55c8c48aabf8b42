"""Every mutation of every example ends well: exit 0, or exit 1 with every error located at
``file:line:column``; never a traceback, never a command run, never a file written on error."""

from __future__ import annotations

import pathlib
import re
import shutil

import pytest
from conftest import EXAMPLES
from helpers import run
from mutations import Mutation, mutations

PER_EXAMPLE = 36
MARKER = pathlib.Path("/tmp/mlopsctl-fuzz-marker")  # what the injection corpus tries to create
LOCATED = re.compile(r"\S+:\d+:\d+: (error|warning) [A-Z]+\d+: ")
SUMMARY = re.compile(r"\S+: \d+ errors?(; nothing was written)?$")


def _cases() -> list[tuple[pathlib.Path, Mutation]]:
    return [
        (example, m)
        for example in EXAMPLES
        for m in mutations(example.read_text(encoding="utf-8"), PER_EXAMPLE, example.parent.name)
    ]


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[pathlib.Path, pathlib.Path]:
    """A copy of each example's folder, whose mlops.yaml each case overwrites."""
    root = tmp_path_factory.mktemp("fuzz")
    return {e: pathlib.Path(shutil.copytree(e.parent, root / e.parent.name)) for e in EXAMPLES}


def _files(folder: pathlib.Path) -> set[pathlib.Path]:
    return {p for p in folder.rglob("*")}


@pytest.mark.parametrize(
    ("example", "mutation"), _cases(), ids=lambda v: v.parent.name if isinstance(v, pathlib.Path) else str(v)
)
def test_a_mutated_example_fails_cleanly_or_renders(
    example: pathlib.Path,
    mutation: Mutation,
    projects: dict[pathlib.Path, pathlib.Path],
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = projects[example]
    (project / "mlops.yaml").write_text(mutation.text, encoding="utf-8", errors="surrogatepass")
    monkeypatch.chdir(project)
    before = _files(project)
    MARKER.unlink(missing_ok=True)
    out = tmp_path / "out"
    code, _, err = run("render", "mlops.yaml", "--out", out)  # an exception fails the test
    assert not MARKER.exists(), "a string from the config ran a command"
    assert _files(project) == before, "a file was written in the project"
    if code == 0:
        assert out.is_dir()
        return
    assert code == 1
    assert not out.exists() and not list(tmp_path.iterdir()), "a file was written on error"
    unlocated = [
        line
        for line in err.splitlines()
        if line and not line.startswith("  ") and not LOCATED.match(line) and not SUMMARY.match(line)
    ]
    assert err and not unlocated, err
