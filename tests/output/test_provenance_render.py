"""render --out across config commits: an earlier render's graph.json is what a later one carries
provenance over from, so a commit that changes only provenance rewrites no file."""

from __future__ import annotations

import pathlib

from gitrepos import git, git_init_and_commit
from helpers import CLF_API, OWNED_STAGED_DATA, stamped_commit, write

from mlopsctl import api
from mlopsctl.compiler.provenance import COMMIT

CONFIG = OWNED_STAGED_DATA + CLF_API
MAIN = "      main: {model: clf, version: v1}\n"
ISVC_FILE = "dev/us-central1/manifests/inferenceservice-api-main.yaml"


def _render(path: pathlib.Path, text: str, out: pathlib.Path) -> tuple[str, dict[str, bytes]]:
    path.write_text(text, encoding="utf-8")
    git_init_and_commit(path.parent, "config")
    with api.open_config(path) as validation:
        api.render(validation, out)
    files = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    return str(git(path.parent, "rev-parse", "HEAD")).strip(), files


def test_a_commit_that_changes_only_provenance_rewrites_nothing(tmp_path: pathlib.Path) -> None:
    path, out = write(tmp_path / "src", ""), tmp_path / "out"
    first, before = _render(path, CONFIG, out)
    assert stamped_commit(before[ISVC_FILE]) == first
    _, again = _render(path, "# every line moves\n\n" + CONFIG, out)
    assert again == before


def test_a_real_change_rewrites_its_objects_with_the_new_commit(tmp_path: pathlib.Path) -> None:
    path, out = write(tmp_path / "src", ""), tmp_path / "out"
    first, before = _render(path, CONFIG, out)
    scaled = "# scale out\n" + CONFIG.replace(MAIN, MAIN.replace("v1}", "v1, maxReplicas: 5}"))
    second, after = _render(path, scaled, out)
    names = before.keys() | after.keys()
    changed = {n for n in names if before.get(n) != after.get(n) and "/manifests/" in n}
    assert ISVC_FILE in changed and all("api-main" in n for n in changed), sorted(changed)
    assert stamped_commit(after[ISVC_FILE]) == second
    kept = [n for n in after if "/manifests/" in n and n not in changed]
    assert kept and all(first.encode() in after[n] for n in kept if COMMIT.encode() in after[n])


def test_an_unreadable_earlier_graph_is_rendered_over(tmp_path: pathlib.Path) -> None:
    path, out = write(tmp_path / "src", ""), tmp_path / "out"
    _render(path, CONFIG, out)
    (out / "dev" / "us-central1" / "graph.json").write_text("{not json", encoding="utf-8")
    second, after = _render(path, "# moved\n" + CONFIG, out)
    assert stamped_commit(after[ISVC_FILE]) == second  # nothing to carry over from
