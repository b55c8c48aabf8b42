"""render --out into a folder that no render wrote (no kustomization.yaml and graph.json of an earlier
render) deletes and overwrites nothing of what is there: every file it would delete or change is
refused as not its own, whatever its name; files that already hold what it writes, empty folders, and
an earlier render's output (test_s26s_render_foreign_files.py) are rendered over."""

from __future__ import annotations

import os
import pathlib
import shutil
import threading

import pytest
from helpers import MINIMAL, run, write


def _tree(folder: pathlib.Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.mark.parametrize(
    "placed",
    [
        ["dev/us-central1/manifests/configmap-mine.yaml"],
        ["prod/europe-west4/graph.json"],
        ["dev/us-central1/kustomization.yaml"],
        ["dev/us-central1/manifests/namespace-demo.yaml"],  # a file render writes, with other content
        ["dev/us-central1/platform/mine.yaml", "prod/us-central1/pipelines/mine.yaml"],
        ["dev/us-central1/kustomization.yaml", "dev/us-central1/manifests/configmap-mine.yaml"],
    ],
)
def test_files_in_a_folder_no_render_wrote_are_refused(tmp_path: pathlib.Path, placed: list[str]) -> None:
    config = write(tmp_path / "ml", MINIMAL)
    out = tmp_path / "out"
    for name in placed:
        write(out, "kind: ConfigMap  # the user's own\n", name)
    before = _tree(out)
    code, stdout, err = run("render", config, "--out", out)
    assert (code, stdout) == (1, "")
    assert err.startswith(f"error: --out {out}: render replaces each <env>/<region>/ folder")
    assert "nothing was written" in err
    assert [line for line in err.splitlines() if line.startswith("  ")] == [f"  {p}" for p in sorted(placed)]
    assert _tree(out) == before


def test_what_holds_what_render_writes_and_empty_folders_are_rendered_over(tmp_path: pathlib.Path) -> None:
    """A copy of a render without its graph.json is no trace of one, but nothing in it would be lost."""
    config = write(tmp_path / "ml", MINIMAL)
    assert run("render", config, "--out", tmp_path / "first")[0] == 0
    out = tmp_path / "out"
    shutil.copytree(tmp_path / "first", out)
    (out / "dev/us-central1/graph.json").unlink()
    (out / "prod/europe-west4/manifests").mkdir(exist_ok=True)
    assert run("render", config, "--out", out)[0] == 0
    assert _tree(out) == _tree(tmp_path / "first")


def test_an_earlier_render_is_still_rendered_over(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path / "ml", MINIMAL)
    out = tmp_path / "out"
    assert run("render", config, "--out", out)[0] == 0
    kustomization = out / "dev/us-central1/kustomization.yaml"
    rendered = kustomization.read_text()
    kustomization.write_text(rendered + "# edited\n")
    (out / "prod/europe-west4/graph.json").write_text(
        (out / "prod/europe-west4/graph.json").read_text().replace("acme-demo-prod", "elsewhere")
    )
    assert run("render", config, "--out", out)[0] == 0
    assert kustomization.read_text() == rendered
    assert "elsewhere" not in (out / "prod/europe-west4/graph.json").read_text()


def test_a_kustomize_folder_of_the_users_own_is_no_earlier_render(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path / "ml", MINIMAL)
    out = tmp_path / "out"
    folder = out / "dev/us-central1"
    write(folder, "kind: Kustomization\nresources: [manifests/configmap-mine.yaml]\n", "kustomization.yaml")
    write(folder, "kind: ConfigMap\nmetadata: {name: mine}\n", "manifests/configmap-mine.yaml")
    before = _tree(out)
    code, _, err = run("render", config, "--out", out)
    assert code == 1
    assert [line for line in err.splitlines() if line.startswith("  ")] == [
        "  dev/us-central1/kustomization.yaml",
        "  dev/us-central1/manifests/configmap-mine.yaml",
    ]
    assert _tree(out) == before


def test_a_fifo_in_place_of_graph_json_is_refused_without_waiting(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path / "ml", MINIMAL)
    out = tmp_path / "out"
    (out / "dev/us-central1").mkdir(parents=True)
    os.mkfifo(out / "dev/us-central1/graph.json")
    done: list[tuple[int, str, str]] = []
    worker = threading.Thread(target=lambda: done.append(run("render", config, "--out", out)), daemon=True)
    worker.start()
    worker.join(timeout=120)
    assert done, "render waited on the FIFO"
    code, _, err = done[0]
    assert code == 1 and "\n  dev/us-central1/graph.json" in err
