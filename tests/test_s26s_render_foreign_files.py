"""render --out replaces each <env>/<region>/ folder: files in them that no render wrote (the user's)
are not deleted silently; render refuses, lists them and writes nothing."""

from __future__ import annotations

import pathlib

import pytest
from helpers import MINIMAL, run, write


def _tree(folder: pathlib.Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.mark.parametrize(
    "foreign",
    [
        "dev/us-central1/notes.txt",
        "dev/us-central1/manifests/patch.json",
        "prod/europe-west4/mine/a.yaml",
        "dev/us-central1/manifests/zz-mine.yaml",  # named as a render's, but no render wrote it
        "dev/us-central1/platform/mine.yaml",
        "dev/us-central1/pipelines/mine.yaml",
    ],
)
def test_render_refuses_to_delete_files_it_did_not_write(tmp_path: pathlib.Path, foreign: str) -> None:
    config = write(tmp_path / "ml", MINIMAL)
    out = tmp_path / "out"
    assert run("render", config, "--out", out)[0] == 0
    (out / foreign).parent.mkdir(parents=True, exist_ok=True)
    (out / foreign).write_text("the user's\n")
    (out / "README.md").write_text("beside the target folders: not render's to replace\n")
    before = _tree(out)
    code, stdout, err = run("render", config, "--out", out)
    assert (code, stdout) == (1, "")
    assert err.startswith(f"error: --out {out}: render replaces each <env>/<region>/ folder")
    assert f"\n  {foreign}" in err and "nothing was written" in err
    assert _tree(out) == before


def test_a_previous_render_is_replaced_and_files_beside_the_folders_stay(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path / "ml", MINIMAL)
    out = tmp_path / "out"
    (out / "dev").mkdir(parents=True)
    (out / "README.md").write_text("mine\n")
    (out / "dev" / "notes.txt").write_text("mine\n")
    assert run("render", config, "--out", out)[0] == 0
    assert run("render", config, "--out", out)[0] == 0
    assert (out / "README.md").read_text() == "mine\n" and (out / "dev" / "notes.txt").read_text() == "mine\n"
    assert (out / "dev" / "us-central1" / "kustomization.yaml").is_file()


def test_what_the_last_render_wrote_and_this_one_drops_is_replaced(tmp_path: pathlib.Path) -> None:
    """A manifest the last render wrote (its kustomization names it) is the render's to delete."""
    config = write(tmp_path / "ml", MINIMAL + "data:\n  datasets:\n    logs: {}\n")
    out = tmp_path / "out"
    assert run("render", config, "--out", out)[0] == 0
    before = set(_tree(out))
    config.write_text(MINIMAL, encoding="utf-8")
    assert run("render", config, "--out", out)[0] == 0
    assert set(_tree(out)) <= before
