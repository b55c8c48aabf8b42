"""Each example's render, in the form a reviewer reads, compared with tests/golden/ (--update-goldens).

Per example: ``platform.txt`` (the add-ons each cluster gets, their versions and why; short, and
what an add-on catalog change alters), and per environment the render of its first region,
under ``<env>/<region>/``:

- ``manifests.yaml``: the folder's ``manifests/*.yaml``, one document each, by file name. These
  are what the cluster runs, compiled pipelines (PipelineVersion objects) included.
- ``platform.yaml``: the folder's ``platform/*.yaml``, the Argo CD Application of each add-on.
- ``graph.txt``: one line per resource of ``graph.json``, sorted: its address without the
  ``<env>/<region>/`` prefix (so ``TYPE/NAME``), ``[protected]`` if it is, and what it depends on.
- ``cloud.yaml``: the inputs of the resources that are not Kubernetes objects (the GCP resources
  Pulumi creates); only ``graph.json`` holds them.

Left out as duplicates: ``pipelines/*.yaml`` (the pipeline and platform specs of the
PipelineVersion manifests, byte for byte), ``kustomization.yaml`` (the list of the files above)
and the inputs of Kubernetes resources in ``graph.json`` (the manifests and Applications).

The examples are rendered as if in no Git repository, so no commit is stamped (docs/provenance.md):
the goldens do not change with this repository's HEAD or with uncommitted edits.
"""

from __future__ import annotations

import json
import pathlib
import shutil
from typing import Any

import pytest
from conftest import EXAMPLES, ROOT
from golden_support import Files, expect_files, read_tree
from helpers import run

from mlopsctl.api import validate
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.io.yamlio import dump_yaml

GOLDEN = ROOT / "tests" / "golden"
EXAMPLES_FOLDER = ROOT / "examples" / "projects"
DROPPED = ("kustomization.yaml", "pipelines/")
"""Render files that only repeat others (see the module docstring)."""


@pytest.fixture
def outside_git(monkeypatch: pytest.MonkeyPatch) -> None:
    """Git looks for no repository above an example's folder: it finds none."""
    assert all(example.parent.parent == EXAMPLES_FOLDER for example in EXAMPLES)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(EXAMPLES_FOLDER))


def first_regions(example: pathlib.Path) -> list[Target]:
    """Each environment's first region, as the config lists them."""
    validation = validate(ConfigSource(example, example.name, None))
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    firsts: dict[str, Target] = {}
    for target in validation.targets:
        firsts.setdefault(target.env, target)
    return list(firsts.values())


def review_files(folder: pathlib.Path) -> Files:
    """The golden files of one rendered ``<env>/<region>/`` folder."""
    files: Files = {}
    groups: dict[str, list[str]] = {}
    for name, text in read_tree(folder).items():
        if name == "graph.json":
            files.update(_graph_files(json.loads(text)))
        elif name.startswith(DROPPED):
            continue
        elif "/" in name:
            groups.setdefault(name.split("/", 1)[0] + ".yaml", []).append(f"# {name}\n{text}")
        else:
            files[name] = text
    files.update({name: "---\n".join(documents) for name, documents in groups.items()})
    return files


def _graph_files(graph: dict[str, Any]) -> Files:
    prefix = f"{graph['env']}/{graph['region']}/"
    resources = sorted(graph["resources"], key=lambda r: r["address"])
    lines = []
    for resource in resources:
        line = resource["address"].removeprefix(prefix) + (" [protected]" if resource["protect"] else "")
        if resource["dependsOn"]:
            line += "  <- " + ", ".join(sorted(d.removeprefix(prefix) for d in resource["dependsOn"]))
        lines.append(line)
    cloud = {
        r["address"].removeprefix(prefix): r["inputs"]
        for r in resources
        if not r["type"].startswith("kubernetes:")
    }
    return {"graph.txt": "\n".join(lines) + "\n", "cloud.yaml": dump_yaml(cloud)}


def _render(example: pathlib.Path, out: pathlib.Path) -> pathlib.Path:
    code, _, err = run("render", example, "--out", out)
    assert code == 0, err
    return out


def golden_files(example: pathlib.Path, tmp: pathlib.Path) -> Files:
    """Every golden file of ``example``, by path under tests/golden/<example>/."""
    rendered = _render(example, tmp / "render")
    code, platform_text, err = run("platform", example)
    assert code == 0, err
    files = {"platform.txt": platform_text}
    for target in first_regions(example):
        where = f"{target.env}/{target.region}"
        files |= {f"{where}/{name}": text for name, text in review_files(rendered / where).items()}
    return files


@pytest.mark.usefixtures("outside_git")
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.parent.name)
def test_render_matches_golden(example: pathlib.Path, tmp_path: pathlib.Path, update_goldens: bool) -> None:
    expect_files(golden_files(example, tmp_path), GOLDEN / example.parent.name, update_goldens)


def test_golden_holds_only_the_examples(update_goldens: bool) -> None:
    found = {p.name for p in GOLDEN.iterdir()} if GOLDEN.is_dir() else set()
    strays = sorted(found - {e.parent.name for e in EXAMPLES})
    if update_goldens:
        for name in strays:
            shutil.rmtree(GOLDEN / name)
    else:
        assert not strays, f"tests/golden/ has folders of no example: {strays} (rerun with --update-goldens)"


@pytest.mark.usefixtures("outside_git")
@pytest.mark.parametrize("example", EXAMPLES[:1], ids=lambda p: p.parent.name)
def test_render_twice_gives_identical_bytes(example: pathlib.Path, tmp_path: pathlib.Path) -> None:
    first, second = _render(example, tmp_path / "a"), _render(example, tmp_path / "b")
    assert read_tree(first) == read_tree(second)
