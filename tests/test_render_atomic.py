"""render --out swaps each <env>/<region> folder in by renames; a run killed (SIGKILL) at any step
leaves each folder old or new, never a mix, and the next render converges and cleans up."""

from __future__ import annotations

import pathlib

import pytest
from helpers import WITH_DATA, validated, write
from killable import killed_at

from mlopsctl import api
from mlopsctl.config.target import Target
from mlopsctl.output.folders import recover, write_targets

RENDER = """
import os
import pathlib
import shutil

from mlopsctl import api
from mlopsctl.output import folders as render


def step(src, dst):
    src, dst = pathlib.Path(src), pathlib.Path(dst)
    if ".new-" in src.name:
        return "swap in"
    if ".old-" in dst.parent.name:
        return "aside"
    return "restore" if ".old-" in src.parent.name else "rename"


def removing(path, *_):
    return "removing " + next(k for k in ("new", "old", "gone") if f".{k}-" in pathlib.Path(path).name)


around(render, "_stage", lambda *a: "before staging", lambda *a: "after staging")
around(pathlib.Path, "open", lambda *a: "", lambda p, *a: "staging half written" if ".new-" in str(p) else "")
around(os, "replace", lambda s, d: f"before {step(s, d)}", lambda s, d: f"after {step(s, d)}")
around(shutil, "rmtree", lambda p, *a: f"before {removing(p)}", lambda p, *a: f"after {removing(p)}")
config, out = (pathlib.Path(arg) for arg in sys.argv[1:])
with api.open_config(config) as validation:
    assert validation.ok
    api.render(validation, out)
"""
CHANGED = WITH_DATA.replace("raw: {}", "raw: {versioning: false}")
STEPS = [
    "before staging",
    "staging half written",
    "after staging",
    "before aside",
    "after aside",
    "before swap in",
    "after swap in",
    "before removing old",
    "after removing old",
]


def tree(out: pathlib.Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def render(config: pathlib.Path, out: pathlib.Path) -> None:
    with validated(config) as validation:
        api.render(validation, out)


def rendered(tmp_path: pathlib.Path, text: str, name: str) -> dict[str, bytes]:
    out = tmp_path / name
    render(write(tmp_path / f"{name}-src", text), out)
    return tree(out)


@pytest.fixture(scope="module")
def renders(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """What an uninterrupted render writes of the config, and of the changed config."""
    root = tmp_path_factory.mktemp("uninterrupted")
    return rendered(root, WITH_DATA, "old"), rendered(root, CHANGED, "expected")


def folders(files: dict[str, bytes]) -> dict[str, dict[str, bytes]]:
    """Files by their <env>/<region> folder."""
    found: dict[str, dict[str, bytes]] = {}
    for path, content in files.items():
        env, region, rest = path.split("/", 2)
        found.setdefault(f"{env}/{region}", {})[rest] = content
    return found


@pytest.mark.parametrize(
    ("point", "fresh"),
    [pytest.param(p, False, id=f"{p} over an old render") for p in STEPS]
    + [
        pytest.param(p, True, id=f"{p} into an empty folder")
        for p in STEPS
        if "old" not in p and "aside" not in p
    ],
)
def test_a_render_killed_at_any_step_leaves_old_or_new_folders_and_the_next_converges(
    tmp_path: pathlib.Path, renders: tuple[dict[str, bytes], dict[str, bytes]], point: str, fresh: bool
) -> None:
    old, expected = {} if fresh else folders(renders[0]), renders[1]
    out = tmp_path / "out"
    if not fresh:
        render(write(tmp_path / "src", WITH_DATA), out)
    config = write(tmp_path / "src", CHANGED)
    killed_at(RENDER, point, str(config), str(out))
    new = folders(expected)
    for folder, files in folders(tree(out)).items():
        if folder.split("/")[1].startswith("."):
            continue  # a temporary sibling or a folder renamed aside
        assert files in (old.get(folder), new[folder]), f"{folder} is a mix after a kill {point}"
    render(config, out)
    assert tree(out) == expected
    assert not [p for p in out.rglob(".*")], "leftovers"


@pytest.mark.parametrize(
    "point", ["before restore", "after restore", "before removing new", "after removing new"]
)
def test_a_render_killed_while_it_recovers_is_recovered_by_the_next(
    tmp_path: pathlib.Path, point: str
) -> None:
    """A kill between the renames leaves an old folder aside and no target; the next run restores it."""
    expected = rendered(tmp_path, CHANGED, "expected")
    out = tmp_path / "out"
    render(write(tmp_path / "src", WITH_DATA), out)
    config = write(tmp_path / "src", CHANGED)
    killed_at(RENDER, "after aside", str(config), str(out))
    killed_at(RENDER, point, str(config), str(out))
    render(config, out)
    assert tree(out) == expected and not [p for p in out.rglob(".*")]


def test_recover_restores_a_folder_renamed_aside_and_removes_temporary_siblings(
    tmp_path: pathlib.Path,
) -> None:
    env = tmp_path / "dev"
    write(env / ".us-central1.old-abc123" / "us-central1", "old\n", "graph.json")
    write(env / ".us-central1.new-def456", "half\n", "graph.json")
    write(env / ".europe-west4.old-x_9", "gone\n", "graph.json")  # its swap finished: just removed
    write(env / "europe-west4", "current\n", "graph.json")
    write(env / ".europe-west4.gone-q1", "removed\n", "graph.json")
    write(env, "mine\n", ".notes.new-draft.md")  # a file, not a folder mlopsctl made
    recover(tmp_path)
    assert tree(tmp_path) == {
        "dev/.notes.new-draft.md": b"mine\n",
        "dev/europe-west4/graph.json": b"current\n",
        "dev/us-central1/graph.json": b"old\n",
    }


def test_write_targets_removes_a_target_by_renaming_it_aside_first(tmp_path: pathlib.Path) -> None:
    dev, prod = Target("dev", "us-central1"), Target("prod", "us-central1")
    write_targets(tmp_path, {dev: {"a.yaml": "a\n"}, prod: {"sub/b.yaml": "b\n"}})
    assert tree(tmp_path) == {"dev/us-central1/a.yaml": b"a\n", "prod/us-central1/sub/b.yaml": b"b\n"}
    write_targets(tmp_path, {dev: {"c.yaml": "c\n"}}, removed=(prod,))
    assert tree(tmp_path) == {"dev/us-central1/c.yaml": b"c\n"}
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["c.yaml", "dev", "us-central1"]
