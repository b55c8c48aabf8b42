"""``--format github`` names files relative to the repository root, as GitHub attaches an
annotation only to a path relative to the checkout (``GITHUB_WORKSPACE``), and as the SARIF log
does; outside a Git repository the path stays as the user gave it."""

from __future__ import annotations

import json
import pathlib

import pytest
from gitrepos import git_init_and_commit
from helpers import MINIMAL, run, write
from policy_helpers import PASSING

ONE_REPLICA = PASSING.replace("minReplicas: 2}", "minReplicas: 1}")
BAD = MINIMAL + "data:\n  buckets:\n    raw: {versionning: true}\n"


def _files(out: str) -> list[str]:
    """The ``file=`` property of every annotation in ``out``."""
    return [line.split("file=", 1)[1].split(",line=", 1)[0] for line in out.splitlines() if "file=" in line]


def _sarif_uris(out: str) -> list[str]:
    [results] = [r["results"] for r in json.loads(out)["runs"]]
    return [loc["physicalLocation"]["artifactLocation"]["uri"] for r in results for loc in r["locations"]]


@pytest.fixture
def mono(tmp_path: pathlib.Path) -> pathlib.Path:
    """A Git repository holding projects/churn/mlops.yaml, with a policy finding."""
    repo = tmp_path / "mono"
    write(repo / "projects" / "churn", ONE_REPLICA)
    git_init_and_commit(repo, "churn")
    return repo


def test_check_in_a_project_folder_names_the_file_from_the_repository_root(
    mono: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(mono / "projects" / "churn")
    code, out, _ = run("check", "-f", "github")
    assert code == 1 and out.startswith("::error file=")
    assert _files(out) == ["projects/churn/mlops.yaml"]
    sarif_code, sarif_out, _ = run("check", "-f", "sarif")
    assert sarif_code == 1 and _sarif_uris(sarif_out) == _files(out)


@pytest.mark.parametrize("typed", ["../churn/mlops.yaml", "churn/mlops.yaml", "ABSOLUTE"])
def test_validate_names_the_file_from_the_repository_root_however_it_was_typed(
    mono: pathlib.Path, monkeypatch: pytest.MonkeyPatch, typed: str
) -> None:
    write(mono / "projects" / "churn", BAD)
    monkeypatch.chdir(mono / "projects" / ("churn" if typed.startswith("..") else ""))
    path = str(mono / "projects" / "churn" / "mlops.yaml") if typed == "ABSOLUTE" else typed
    code, out, _ = run("validate", path, "-f", "github")
    assert code == 1
    assert out.strip() == (
        "::error file=projects/churn/mlops.yaml,line=14,col=11,title=E203::unknown key 'versionning' "
        "in data.buckets.raw (did you mean 'versioning'?)"
    )


def test_the_relative_path_is_still_escaped(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "mono"
    write(repo / "a,b:c", BAD)
    git_init_and_commit(repo, "odd folder")
    monkeypatch.chdir(repo / "a,b:c")
    _, out, _ = run("validate", "-f", "github")
    assert _files(out) == ["a%2Cb%3Ac/mlops.yaml"]


def test_outside_a_repository_the_path_is_as_given(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not any((p / ".git").exists() for p in (tmp_path, *tmp_path.parents))
    path = write(tmp_path / "ml", BAD)
    monkeypatch.chdir(tmp_path)
    _, absolute, _ = run("validate", path, "-f", "github")
    _, relative, _ = run("validate", "ml/mlops.yaml", "-f", "github")
    assert _files(absolute) == [str(path).replace(":", "%3A").replace(",", "%2C")]
    assert _files(relative) == ["ml/mlops.yaml"]


def test_a_file_outside_the_repository_is_named_as_given(
    mono: pathlib.Path, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = write(tmp_path / "elsewhere", BAD)
    monkeypatch.chdir(mono / "projects")
    _, out, _ = run("validate", elsewhere, "-f", "github")
    assert _files(out) == [str(elsewhere).replace(":", "%3A").replace(",", "%2C")]


def test_a_config_read_at_a_ref_is_annotated_on_its_file(
    mono: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--ref shows the config as PATH@REF; GitHub and SARIF name PATH, a file of the checkout."""
    write(mono / "projects" / "churn", BAD)
    git_init_and_commit(mono, "bad")
    monkeypatch.chdir(mono)
    code, out, _ = run("validate", "projects/churn/mlops.yaml", "--ref", "HEAD", "-f", "github")
    assert code == 1 and _files(out) == ["projects/churn/mlops.yaml"]
    code, out, _ = run("validate", "projects/churn/mlops.yaml", "--ref", "HEAD", "-f", "sarif")
    assert code == 1 and _sarif_uris(out) == ["projects/churn/mlops.yaml"]
