"""render --out into a Git work tree does not discard the user's uncommitted work: a rendered file it
would overwrite or delete that has uncommitted changes makes it refuse, list them and write nothing
(a file no render wrote is refused as such). Files it leaves as they are, an earlier render's
untracked output, and files elsewhere in the repository, do not count."""

from __future__ import annotations

import pathlib

import pytest
from gitrepos import git, git_init_and_commit
from helpers import CLF_API, MINIMAL, run, write

KUSTOMIZATION = "out/dev/us-central1/kustomization.yaml"
GRAPH = "out/prod/europe-west4/graph.json"


def _tree(repo: pathlib.Path) -> dict[str, bytes]:
    return {
        p.relative_to(repo).as_posix(): p.read_bytes()
        for p in sorted(repo.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(repo).parts
    }


@pytest.fixture
def repo(tmp_path: pathlib.Path) -> pathlib.Path:
    """A config repository with a render into ``out/`` committed."""
    root = tmp_path / "repo"
    write(root, MINIMAL)
    assert run("render", root / "mlops.yaml", "--out", root / "out")[0] == 0
    git_init_and_commit(root, "rendered")
    return root


def _render(repo: pathlib.Path) -> tuple[int, str, str]:
    return run("render", repo / "mlops.yaml", "--out", repo / "out")


def _refused(repo: pathlib.Path, *listed: str) -> str:
    before = _tree(repo)
    code, stdout, err = _render(repo)
    assert (code, stdout) == (1, "")
    assert err.startswith(f"error: --out {repo / 'out'}: render replaces each <env>/<region>/ folder")
    assert "uncommitted changes in Git" in err and "commit them, discard them (git restore)" in err
    assert "render into another folder (nothing was written)" in err
    lines = [line for line in err.splitlines() if line.startswith("  ")]
    assert lines == [f"  {entry}" for entry in listed]
    assert _tree(repo) == before
    return err


def test_an_edited_rendered_file_is_not_overwritten(repo: pathlib.Path) -> None:
    edited = (repo / KUSTOMIZATION).read_text() + "# mine\n"
    (repo / KUSTOMIZATION).write_text(edited)
    _refused(repo, f" M {repo / KUSTOMIZATION}")
    assert (repo / KUSTOMIZATION).read_text() == edited


def test_a_staged_file_it_would_change_is_listed(repo: pathlib.Path) -> None:
    (repo / GRAPH).write_text("{}\n")
    git(repo, "add", GRAPH)
    _refused(repo, f"M  {repo / GRAPH}")


def test_untracked_files_no_render_wrote_are_refused_before_git_is_asked(repo: pathlib.Path) -> None:
    """Files a render did not write are refused as such (test_s26s_render_foreign_files.py), in Git or
    not, listing ten of them."""
    manifests = repo / "out/dev/us-central1/manifests"
    for n in range(25):
        (manifests / f"mine-{n:02}.yaml").write_text("kind: Mine\n")
    before = _tree(repo)
    code, _, err = _render(repo)
    assert code == 1 and "these hold files it did not write, which it would delete" in err
    listed = [line for line in err.splitlines() if line.startswith("  ")]
    assert listed == [f"  dev/us-central1/manifests/mine-{n:02}.yaml" for n in range(10)] + ["  ..."]
    assert _tree(repo) == before


def test_uncommitted_files_it_leaves_alone_do_not_stop_it(repo: pathlib.Path) -> None:
    (repo / "mlops.yaml").write_text(MINIMAL + "# the config itself, being edited\n")
    (repo / "notes.txt").write_text("elsewhere in the repository\n")
    (repo / "out" / "README.md").write_text("beside the target folders\n")
    (repo / KUSTOMIZATION).unlink()  # deleted: Git has its content, and render writes it again
    git(repo, "rm", "-q", GRAPH)
    committed = _tree(repo)
    assert _render(repo)[0] == 0
    assert _tree(repo)[KUSTOMIZATION] == git(repo, "show", f"HEAD:{KUSTOMIZATION}").encode()
    assert _tree(repo)[GRAPH] == git(repo, "show", f"HEAD:{GRAPH}").encode()
    assert {k: v for k, v in _tree(repo).items() if k not in (KUSTOMIZATION, GRAPH)} == committed


def test_an_earlier_render_never_committed_is_rendered_over(tmp_path: pathlib.Path) -> None:
    """Rendering again before a commit is the usual loop: the untracked files an earlier render wrote
    are rendered over, as outside Git, also those it no longer writes; a file no render wrote stops it."""
    root = tmp_path / "repo"
    write(root, MINIMAL)
    git_init_and_commit(root, "config only")
    assert _render(root)[0] == 0
    (root / "mlops.yaml").write_text(MINIMAL.replace("acme-demo-dev", "acme-demo-dev2"))
    assert _render(root)[0] == 0
    assert "acme-demo-dev2" in (root / "out/dev/us-central1/graph.json").read_text()
    served = root / "out/dev/us-central1/manifests/inferenceservice-api-main.yaml"
    (root / "mlops.yaml").write_text(MINIMAL + CLF_API)
    assert _render(root)[0] == 0 and served.is_file()  # writes an endpoint's objects ...
    (root / "mlops.yaml").write_text(MINIMAL)
    assert _render(root)[0] == 0 and not served.exists()  # ... and drops them, never committed
    mine = root / "out/dev/us-central1/manifests/mine.yaml"
    mine.write_text("kind: Mine\n")
    assert _render(root)[0] == 1 and mine.read_text() == "kind: Mine\n"


def test_committed_edits_are_rendered_over(repo: pathlib.Path) -> None:
    (repo / KUSTOMIZATION).write_text("# mine\n")
    git_init_and_commit(repo, "edited")
    assert _render(repo)[0] == 0
    assert (repo / KUSTOMIZATION).read_text() == git(repo, "show", f"HEAD~1:{KUSTOMIZATION}")


def test_outside_a_git_work_tree_a_render_replaces_edits_as_before(tmp_path: pathlib.Path) -> None:
    root = tmp_path / "plain"
    write(root, MINIMAL)
    assert _render(root)[0] == 0
    rendered = (root / KUSTOMIZATION).read_text()
    (root / KUSTOMIZATION).write_text(rendered + "# mine\n")
    assert _render(root)[0] == 0
    assert (root / KUSTOMIZATION).read_text() == rendered
