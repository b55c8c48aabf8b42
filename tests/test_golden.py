"""Every example's render, plan and platform, compared with tests/golden/ (refresh: --update-goldens)."""

from __future__ import annotations

import pathlib
import shutil

import pytest
from conftest import EXAMPLES, ROOT
from helpers import run

GOLDEN = ROOT / "tests" / "golden"


def _tree(folder: pathlib.Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _rendered(example: pathlib.Path, out: pathlib.Path) -> dict[str, bytes]:
    code, _, err = run("render", example, "--out", out / "render")
    assert code == 0, err
    code, plan_text, err = run("plan", example)
    assert code == 0, err
    (out / "render" / "plan.txt").write_text(plan_text, encoding="utf-8")
    code, platform_text, err = run("platform", example)
    assert code == 0, err
    (out / "render" / "platform.txt").write_text(platform_text, encoding="utf-8")
    return _tree(out / "render")


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.parent.name)
def test_render_matches_golden(example: pathlib.Path, tmp_path: pathlib.Path, update_goldens: bool) -> None:
    actual = _rendered(example, tmp_path)
    golden = GOLDEN / example.parent.name
    if update_goldens:
        shutil.rmtree(golden, ignore_errors=True)
        shutil.copytree(tmp_path / "render", golden)
    expected = _tree(golden)
    assert sorted(actual) == sorted(expected), (
        "files differ from the golden set; rerun with --update-goldens and review"
    )
    for name, content in actual.items():
        assert content == expected[name], f"{name} differs from tests/golden/{example.parent.name}/{name}"


@pytest.mark.parametrize("example", EXAMPLES[:1], ids=lambda p: p.parent.name)
def test_render_twice_gives_identical_bytes(example: pathlib.Path, tmp_path: pathlib.Path) -> None:
    assert _rendered(example, tmp_path / "a") == _rendered(example, tmp_path / "b")
